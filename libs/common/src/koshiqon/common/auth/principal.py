"""Who is calling: the verified identity behind a bearer token."""

from __future__ import annotations

from dataclasses import dataclass

from koshiqon.common.errors import Forbidden, InvalidInput
from koshiqon.common.kz import region_of


@dataclass(frozen=True)
class Principal:
    """A caller whose token has been verified.

    `region` is a region's own KATO code (`AB0000000`) for an akimat limited to its region,
    or None for a nationwide caller (the ministry and other state agencies), whose token says
    so with the region claim `"*"` (a token without a region claim is refused).
    """

    subject: str
    scopes: frozenset[str]
    agency: str | None
    region: str | None
    token_id: str | None

    @property
    def nationwide(self) -> bool:
        return self.region is None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def require_scope(self, scope: str) -> None:
        if not self.has_scope(scope):
            raise Forbidden(f"missing scope: {scope}", extra={"missing_scopes": [scope]})

    def can_act_in(self, kato: str) -> bool:
        """Whether this caller may act on `kato` (any KATO code: region, district, settlement).

        Raises `InvalidInput(field="kato")` when `kato` is malformed or unknown.
        """
        if self.region is None:
            return True
        return region_of(kato).kato == self.region

    def require_region(self, kato: str, *, field: str = "region") -> None:
        """Refuse (403) unless this caller may act on `kato`; `field` names it in the problem."""
        if not self.can_act_in(kato):
            raise Forbidden(
                f"the token is limited to region {self.region}; {field} is outside it",
                field=field,
            )


def region_code(value: str) -> str:
    """`value` if it is a region's own KATO code (`AB0000000`), else `InvalidInput`.

    A district or settlement code is refused rather than widened to its region: a region
    grant is authority over the whole region, and a narrower code must not turn into one.
    """
    region = region_of(value)
    if region.kato != value:
        raise InvalidInput(
            f"not a region code: a region's own code is {region.kato}", field="region"
        )
    return region.kato
