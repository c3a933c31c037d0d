"""The development tokens of the people who use the system, each with the scopes its work
needs (the services' `require_scopes` and their nationwide or regional checks):

- the ministry (the authorized migration body): nationwide; sets quotas and territories and
  decides proposals (`quota:admin`, `proposals:decide`), reads everything;
- the akimat of North Kazakhstan: limited to 590000000; files proposals, reads its region's
  quotas, indicators and registrations;
- a registration clerk: registers persons, residences and applications (`registration:*`
  but the audit);
- an analyst: reads the indicators, alerts and projections and loads statistical inputs
  (`monitoring:write`), reads quotas and proposals;
- an external subscriber (an agency following the events): read-only aggregates, no
  personal data (`monitoring:read`, `quota:read`).

Tokens live an hour, the services' maximum; `koshiqon stack tokens` prints fresh ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from koshiqon.devtools.devkey import issue_dev_token

NORTH_KAZAKHSTAN = "590000000"


@dataclass(frozen=True)
class Role:
    name: str
    title: str
    scopes: tuple[str, ...]
    region: str | None = None
    agency: str | None = None

    def token(self) -> str:
        return issue_dev_token(
            scopes=self.scopes, region=self.region, agency=self.agency, subject=f"demo-{self.name}"
        )


ROLES = (
    Role("ministry", "the ministry (migration body)",
         ("quota:admin", "quota:read", "proposals:decide", "proposals:read", "monitoring:read",
          "registration:read", "registration:audit"), agency="ministry"),
    Role("akimat", "the akimat of North Kazakhstan",
         ("proposals:file", "proposals:read", "quota:read", "monitoring:read",
          "registration:read"), region=NORTH_KAZAKHSTAN, agency="akimat-590000000"),
    Role("clerk", "a registration clerk",
         ("registration:read", "registration:write"), agency="registration-office"),
    Role("analyst", "an analyst",
         ("monitoring:read", "monitoring:write", "quota:read", "proposals:read"),
         agency="statistics"),
    Role("subscriber", "an external subscriber",
         ("monitoring:read", "quota:read"), agency="subscriber"),
)  # fmt: skip


def akimat_of(region: str) -> Role:
    return Role(
        f"akimat-{region}",
        f"the akimat of {region}",
        ("proposals:file", "proposals:read", "quota:read", "monitoring:read"),
        region=region,
        agency=f"akimat-{region}",
    )


@dataclass
class Tokens:
    """One token per role, minted once (the demo load takes minutes, a token an hour)."""

    ministry: str = field(default_factory=lambda: ROLES[0].token())
    clerk: str = field(default_factory=lambda: ROLES[2].token())
    analyst: str = field(default_factory=lambda: ROLES[3].token())
    _akimats: dict[str, str] = field(default_factory=dict)

    def akimat(self, region: str) -> str:
        if region not in self._akimats:
            self._akimats[region] = akimat_of(region).token()
        return self._akimats[region]
