"""Refusals of the registration domain; libs/common maps them to problem+json."""

from __future__ import annotations

from koshiqon.common.errors import Conflict, Forbidden, InvalidInput, NotFound

__all__ = [
    "ApplicationNotFound",
    "DuplicatePerson",
    "Forbidden",
    "InvalidInput",
    "InvalidTransition",
    "OutsideRegion",
    "OverlappingStay",
    "PersonNotFound",
    "ResidenceNotFound",
]


class PersonNotFound(NotFound):
    def __init__(self, person_id: object, *, field: str | None = None) -> None:
        super().__init__(f"no person {person_id}", field=field)


class ResidenceNotFound(NotFound):
    def __init__(self, residence_id: object) -> None:
        super().__init__(f"no residence registration {residence_id} of this person")


class ApplicationNotFound(NotFound):
    def __init__(self, application_id: object) -> None:
        super().__init__(f"no resettlement application {application_id}")


class DuplicatePerson(Conflict):
    """One person per IIN, and per travel document."""


class OverlappingStay(Conflict):
    """Two temporary stays of one person at one address whose dates overlap."""


class InvalidTransition(Conflict):
    """An application or registration is not in a state that allows the request."""


class OutsideRegion(Forbidden):
    def __init__(self, region: str, *, field: str) -> None:
        super().__init__(
            f"the token is limited to region {region}; {field} is outside it", field=field
        )
