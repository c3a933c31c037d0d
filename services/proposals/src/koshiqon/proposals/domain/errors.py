"""Refusals of the proposals service, each with a stable `code` (the problem type's last
part). `koshiqon.common.http.problems` maps them to problem+json (403/404/409/422); the two
version refusals are answered 412 and 428 by the app (`bootstrap.build_app`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from koshiqon.common.errors import Conflict, Forbidden, InvalidInput, NotFound


class ProposalNotFound(NotFound):
    """No such proposal, or one of another region (an akimat sees its own region's only)."""

    code = "proposal-not-found"


class RulesNotFound(NotFound):
    code = "regional-rules-not-found"


class IllegalTransition(Conflict):
    """The action is not allowed from the proposal's current state; the problem names the
    state (`current_status`: `status` is the problem's HTTP status, RFC 9457) and the
    actions allowed from it."""

    code = "illegal-transition"

    def __init__(self, action: str, status: str, allowed: Sequence[str]) -> None:
        allowed_text = ", ".join(allowed) or "none"
        super().__init__(
            f"cannot {action} a proposal that is {status}; allowed: {allowed_text}",
            extra={"current_status": status, "allowed_actions": list(allowed)},
        )


class RulesState(Conflict):
    """Only a draft version of the regional rules can be approved."""

    code = "regional-rules-state"


class StaleVersion(Conflict):
    """`If-Match` names an older version than the proposal's (answered 412)."""

    code = "stale-version"

    def __init__(self, expected: int, current: int) -> None:
        super().__init__(
            f"the proposal is at version {current}, not {expected}: read it again",
            field="If-Match",
            extra={"current_version": current},
        )


class VersionRequired(InvalidInput):
    """A change without `If-Match` (answered 428)."""

    code = "if-match-required"


class InvalidPayload(InvalidInput):
    """A payload that does not fit its proposal's type: each field named in `errors`."""

    code = "invalid-payload"

    def __init__(self, errors: Sequence[tuple[str, str]]) -> None:
        fields = ", ".join(f for f, _ in errors)
        items: list[dict[str, Any]] = [{"field": f, "message": m} for f, m in errors]
        super().__init__(f"invalid value in: {fields}", extra={"errors": items})


class InvalidProposal(InvalidInput):
    """One field against a rule (an unknown region, an amended delta of 0...)."""

    code = "invalid-proposal"


class AkimatOnly(Forbidden):
    """Filing and changing a proposal or regional rules is the region's akimat's: a token
    limited to that region."""

    code = "akimat-token-required"


class NationwideOnly(Forbidden):
    """Deciding is the authorized migration body's: a nationwide token."""

    code = "nationwide-token-required"
