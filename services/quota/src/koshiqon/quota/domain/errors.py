"""Refusals of the quota service, each with a stable `code` (the problem type's last part).
`koshiqon.common.http.problems` maps them to problem+json (403/404/409/422), the consumer to
the dead-letter topic or, for an approved proposal, to proposal-effect-refused. A caller
limited to another region gets the common `OutsideRegion`."""

from __future__ import annotations

from koshiqon.common.errors import Conflict, Forbidden, InvalidInput, NotFound


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


class ReservationConflict(Conflict):
    """A reservation asked again under an application id whose entry holds another request
    (kind, region, year, category or persons): a repeat must ask for the same."""

    code = "reservation-conflict"


class InvalidQuota(InvalidInput):
    code = "invalid-quota"


class InvalidAdjustment(InvalidInput):
    """An adjustment that gives both or neither of delta and new_limit, or a delta of 0."""

    code = "invalid-adjustment"


class OutsideProposalRegion(InvalidInput):
    """A proposal's territory that lies outside the region that proposed it."""

    code = "outside-proposal-region"


class InvalidOrder(InvalidInput):
    """A quota order file that is not UTF-8 CSV text, too large, or with bad rows: nothing
    of it is imported."""

    code = "invalid-quota-order"


class NationwideOnly(Forbidden):
    """Quotas and territories are the ministry's (§6: an akimat proposes, it does not
    decide): their changes take a nationwide token."""

    code = "nationwide-token-required"
