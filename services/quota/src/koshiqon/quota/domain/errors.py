"""Refusals of the quota domain. The HTTP layer maps them to problem+json (404/409/422), the
consumer to the dead-letter topic or, for an approved proposal, to proposal-effect-refused."""

from __future__ import annotations

from koshiqon.common.errors import Conflict, InvalidInput, NotFound


class QuotaNotFound(NotFound):
    code = "quota-not-found"


class TerritoryNotFound(NotFound):
    code = "territory-not-found"


class ReservationNotFound(NotFound):
    code = "reservation-not-found"


class DuplicateQuota(Conflict):
    """An active quota of the same kind, region and category already covers the period."""

    code = "duplicate-quota"


class NotDesignated(Conflict):
    """A kandas or migrant quota for a region with no designated territory for that kind."""

    code = "not-designated"


class AlreadyDesignated(Conflict):
    code = "already-designated"


class BelowUsed(Conflict):
    """A reduction below what is already reserved and consumed."""

    code = "below-used"


class QuotaClosed(Conflict):
    code = "quota-closed"


class TerritoryExcludedAlready(Conflict):
    code = "territory-excluded"


class ReservationState(Conflict):
    """The reservation is not in a state that allows this transition."""

    code = "reservation-state"


class InvalidQuota(InvalidInput):
    code = "invalid-quota"


class InvalidOrder(InvalidInput):
    """A quota order file with bad rows: nothing of it is imported."""

    code = "invalid-quota-order"
