"""Refusals of the registration domain, each with a stable `code`; libs/common maps them to
problem+json by their base classes (not found 404, conflict 409, invalid input 422)."""

from __future__ import annotations

from koshiqon.common.errors import Conflict, Forbidden, InvalidInput, NotFound
from koshiqon.common.messagebus import OutsideRegion

__all__ = [
    "ApplicationNotFound",
    "DuplicatePerson",
    "Forbidden",
    "InvalidInput",
    "InvalidTransition",
    "OpenApplicationExists",
    "OutsideRegion",
    "OverlappingStay",
    "PersonNotFound",
    "ResidenceNotFound",
]


class PersonNotFound(NotFound):
    code = "person-not-found"

    def __init__(self, person_id: object, *, field: str | None = None) -> None:
        super().__init__(f"no person {person_id}", field=field)


class ResidenceNotFound(NotFound):
    code = "residence-not-found"

    def __init__(self, residence_id: object) -> None:
        super().__init__(f"no residence registration {residence_id} of this person")


class ApplicationNotFound(NotFound):
    code = "application-not-found"

    def __init__(self, application_id: object) -> None:
        super().__init__(f"no resettlement application {application_id}")


class DuplicatePerson(Conflict):
    """One person per IIN, and per travel document."""

    code = "duplicate-person"


class OverlappingStay(Conflict):
    """Two temporary stays of one person at one address whose dates overlap."""

    code = "overlapping-stay"


class OpenApplicationExists(Conflict):
    """One open resettlement application per applicant."""

    code = "open-application-exists"


class InvalidTransition(Conflict):
    """An application or registration is not in a state that allows the request."""

    code = "invalid-transition"
