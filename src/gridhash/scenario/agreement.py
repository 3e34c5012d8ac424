"""The ``agreements`` part of a scenario: who the parties are and how they share.

A scenario may carry several alternative agreements (the default ``znpp``
ships two); ``gridhash run --agreement NAME`` plans under one, ``gridhash
compare`` runs them side by side and ``gridhash settle`` turns one into signed
statements.  See docs/agreements.md.
"""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator, model_validator

from gridhash.scenario.base import FiniteFloat, Model, SeriesSpec, _unique, field

Role = Literal["operator", "owner", "offtaker", "monitor", "auditor"]

#: Cost categories and what each covers.
COST_CATEGORIES: dict[str, str] = {
    "generation": "units' marginal costs (fuel, variable O&M)",
    "imports": "energy imported for house load",
    "diesel": "diesel burnt for house load",
    "fixed_om": "fixed operations and maintenance (agreement's yearly amount)",
    "mining_opex": "mining sites' opex",
    "fleet_capital": "mining fleet capital (agreement's yearly amount)",
}

_SHARE_TOL = 1e-9


def _check_shares(shares: dict[str, float], what: str) -> dict[str, float]:
    if not shares:
        raise ValueError(f"{what} needs at least one party")
    bad = {k: v for k, v in shares.items() if not (0.0 <= v <= 1.0)}
    if bad:
        raise ValueError(f"{what}: shares must lie in [0, 1], got {bad}")
    total = sum(shares.values())
    if abs(total - 1.0) > _SHARE_TOL:
        raise ValueError(f"{what}: shares must add up to 1, they add up to {total:.12g}")
    return shares


class Party(Model):
    """A party to the agreement."""

    id: str = field("Short identifier (used for keys, statements and tokens).", min_length=1)
    name: str = field("Full name.", min_length=1)
    role: Role = field("What the party does: operator, owner, offtaker, monitor or auditor.")

    @field_validator("id")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not all(c.isalnum() or c in "-_" for c in v):
            raise ValueError(f"party id {v!r} may hold only letters, digits, '-' and '_'")
        return v


class Obligation(Model):
    """A priority supply: serve up to ``mw`` of an offtake's demand before any mining."""

    offtake: str = field("Name of the offtake (grid.offtakes).", min_length=1)
    mw: SeriesSpec = field("Most to serve with priority.", unit="MW", series=True, ge=0)
    months: list[int] | None = field(
        "Months (1-12) when the obligation holds; default: all year.", default=None
    )
    description: str = field("What it is for.", default="")

    @field_validator("months")
    @classmethod
    def _months(cls, v: list[int] | None) -> list[int] | None:
        if v is not None and (not v or any(not 1 <= m <= 12 for m in v)):
            raise ValueError(f"months must be a non-empty list of 1..12, got {v}")
        return v


class PriceTerm(Model):
    """The price of energy delivered to one offtake, and who pays it."""

    offtake: str = field("Name of the offtake (grid.offtakes).", min_length=1)
    price_usd_per_mwh: SeriesSpec | None = field(
        "Agreed price; default: the scenario's market price for the offtake.",
        unit="USD/MWh",
        series=True,
        default=None,
    )
    payer: str | None = field(
        "Party (role offtaker) that pays for the energy; default: a buyer outside the "
        "agreement.",
        default=None,
    )


class MiningTerms(Model):
    """Who owns the mining fleet and what it pays for its power."""

    owners: dict[str, float] = field(
        "Party → share of the fleet: its BTC, and (by default) its opex and capital."
    )
    energy_price_usd_per_mwh: FiniteFloat = field(
        "What the fleet's owners pay the energy owners for each MWh mined.",
        unit="USD/MWh",
        default=0.0,
        ge=0,
    )

    @field_validator("owners")
    @classmethod
    def _owners(cls, v: dict[str, float]) -> dict[str, float]:
        return _check_shares(v, "mining.owners")


class Costs(Model):
    """Fixed amounts and how each cost category is shared."""

    fixed_om_usd_per_year: FiniteFloat = field(
        "Fixed operations and maintenance of the plant.", unit="USD/yr", default=0.0, ge=0
    )
    fleet_capital_usd_per_year: FiniteFloat = field(
        "Capital charge of the mining fleet.", unit="USD/yr", default=0.0, ge=0
    )
    shares: dict[str, dict[str, float]] = field(
        "Category → {party: share}. Categories: " + ", ".join(COST_CATEGORIES) + ". Default: "
        "generation, imports, diesel and fixed_om by entitlement; mining_opex and fleet_capital "
        "by fleet ownership.",
        default_factory=dict,
    )

    @field_validator("shares")
    @classmethod
    def _shares(cls, v: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for cat, shares in v.items():
            if cat not in COST_CATEGORIES:
                raise ValueError(
                    f"unknown cost category {cat!r}; expected one of {', '.join(COST_CATEGORIES)}"
                )
            _check_shares(shares, f"costs.shares.{cat}")
        return v


class Approval(Model):
    """The rule that makes a plan active."""

    role: Role = field("Role whose members approve plans.", default="owner")
    required: int = field("Approvals needed from that role.", ge=1)
    vetoes: list[str] = field(
        "Parties that may veto a plan on safety grounds (typically the monitor).",
        default_factory=list,
    )


class Agreement(Model):
    """One way of running the plant jointly: parties, shares, obligations, approvals."""

    name: str = field("Unique name of the agreement.", min_length=1)
    description: str = field("One line on what it is.", default="")
    parties: list[Party] = field("The parties.", min_length=1)
    entitlements: dict[str, float] = field(
        "Party → share of the plant's net energy (and of the grid revenue it earns)."
    )
    grid_first: bool = field(
        "Strict priority of the grid: every offtake takes all it can (up to its demand "
        "and lines) before any MW is mined, whatever the prices. false: only the "
        "obligations come before mining; above them the dispatch sends each MW where it "
        "is worth more, so mining outbids the grid whenever its value exceeds the "
        "grid's price.",
        default=False,
    )
    obligations: list[Obligation] = field(
        "Priority supplies, served before any mining.", default_factory=list
    )
    prices: list[PriceTerm] = field("Price terms per offtake.", default_factory=list)
    mining: MiningTerms = field("The mining fleet's ownership and power price.")
    costs: Costs = field("Fixed costs and cost sharing.", default_factory=Costs)
    approval: Approval = field("How plans are approved.")
    settlement_period_hours: int = field(
        "Length of a settlement period.", unit="h", default=24, gt=0
    )

    @field_validator("parties")
    @classmethod
    def _parties_unique(cls, v: list[Party]) -> list[Party]:
        seen: set[str] = set()
        for p in v:
            if p.id in seen:
                raise ValueError(f"duplicate party id {p.id!r}; ids must be unique")
            seen.add(p.id)
        return v

    @field_validator("entitlements")
    @classmethod
    def _entitlements(cls, v: dict[str, float]) -> dict[str, float]:
        return _check_shares(v, "entitlements")

    @model_validator(mode="after")
    def _references(self) -> Agreement:
        roles = {p.id: p.role for p in self.parties}

        def known(pid: str, where: str, allowed: tuple[str, ...] | None = None) -> None:
            if pid not in roles:
                raise ValueError(
                    f"{where} names unknown party {pid!r}; parties: {', '.join(roles)}"
                )
            if allowed and roles[pid] not in allowed:
                raise ValueError(
                    f"{where}: party {pid!r} is a {roles[pid]}, expected {' or '.join(allowed)}"
                )

        for pid in self.entitlements:
            known(pid, "entitlements", ("owner", "operator"))
        for pid in self.mining.owners:
            known(pid, "mining.owners")
        for i, t in enumerate(self.prices):
            if t.payer is not None:
                known(t.payer, f"prices[{i}].payer", ("offtaker",))
        for cat, shares in self.costs.shares.items():
            for pid in shares:
                known(pid, f"costs.shares.{cat}")
        for pid in self.approval.vetoes:
            known(pid, "approval.vetoes")
        members = [p for p in self.parties if p.role == self.approval.role]
        if self.approval.required > len(members):
            raise ValueError(
                f"approval needs {self.approval.required} {self.approval.role}(s) but the "
                f"agreement has {len(members)}"
            )
        offtakes = [t.offtake for t in self.prices]
        if len(set(offtakes)) != len(offtakes):
            raise ValueError("prices: an offtake has more than one price term")
        return self

    def party(self, pid: str) -> Party:
        return next(p for p in self.parties if p.id == pid)

    def cost_shares(self, category: str) -> dict[str, float]:
        """{party: share} of a cost category (the defaults filled in)."""
        if category in self.costs.shares:
            return self.costs.shares[category]
        if category in ("mining_opex", "fleet_capital"):
            return self.mining.owners
        return self.entitlements


def unique_agreements(v: list[Agreement]) -> list[Agreement]:
    return _unique(v, "agreement")


AGREEMENT_PARTS: tuple[type[Model], ...] = (
    Agreement,
    Party,
    Obligation,
    PriceTerm,
    MiningTerms,
    Costs,
    Approval,
)
