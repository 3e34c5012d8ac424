"""Settlement: meter records of a period + the agreement → one statement per party.

Money is settled in integer US cents and bitcoin in integer satoshis, energy in
integer kWh.  The rules, applied the same way by whoever recomputes them:

1. **Pools.**  Each amount to be shared is first totalled for the period in
   float64 from the hourly meter records (``math.fsum`` of hourly products, in
   record order), then rounded once to an integer number of cents, satoshis or
   kWh, half to even (``decimal.ROUND_HALF_EVEN`` on the float's exact decimal
   expansion).  Pools: grid sales per offtake, BTC mined, the USD value of that
   BTC at the hours' prices, the fleet's power purchase, each cost category,
   net energy, the energy delivered to each offtake, and each site's
   demand-response payments (availability, and energy curtailed on call).
2. **Allocation** of a pool among parties by shares: the largest-remainder
   (Hamilton) method on exact rationals.  Each party gets the floor of
   ``total × share / Σ shares``; the units left over go one each to the parties
   with the largest fractional remainders; ties go to the party listed first in
   the agreement.  A negative total is allocated as its magnitude, negated.
   So every pool's allocations add up to the pool exactly, and anyone holding
   the meter records and the agreement gets the same integers.

Demand response: the grid operator's programme pays each enrolled site for the
capacity it holds available and for the energy it curtails on call.  Those
payments are read hour by hour from the accounts' lines
``demand_response_availability_usd:<site>`` and ``demand_response_energy_usd:<site>``
(never recomputed here), pooled per site and kind, and shared among the fleet's
owners by their shares (``mining.owners``): the fleet is what stands ready to
curtail (an assumption of gridhash, stated in docs/agreements.md).  Each owner's
statement carries them as their own lines and ``demand_response_cents``.  A meter
record without ``demand_response`` (no site has a programme, or a record written
before gridhash settled them) settles exactly as before.

Pure functions of plain data: :func:`meter_record` (from the accounts of a
period, planned or metered) is the only place that reads them;
:func:`settle_period` reads only a meter record (a JSON-ready dict, as stored in
the ledger) and the agreement.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from gridhash.accounts import Accounts
    from gridhash.pipeline import Run
    from gridhash.scenario.agreement import Agreement

HOURS_PER_YEAR = 8760


def round_units(x: float, scale: int) -> int:
    """``x × scale`` rounded half to even to an integer (on the float's exact value)."""
    return int((Decimal(x) * scale).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def cents(usd: float) -> int:
    return round_units(usd, 100)


def sats(btc: float) -> int:
    return round_units(btc, 100_000_000)


def allocate(total: int, shares: dict[str, float], order: list[str]) -> dict[str, int]:
    """Split an integer ``total`` by ``shares`` exactly (largest remainder; ties by ``order``).

    >>> allocate(100, {"a": 1/3, "b": 1/3, "c": 1/3}, ["a", "b", "c"])
    {'a': 34, 'b': 33, 'c': 33}
    """
    parties = [p for p in order if p in shares]
    if total < 0:
        return {p: -v for p, v in allocate(-total, shares, order).items()}
    weights = {p: Fraction(shares[p]) for p in parties}
    w = sum(weights.values())
    if w == 0:
        raise ValueError("shares add up to zero")
    quotas = {p: Fraction(total) * weights[p] / w for p in parties}
    out = {p: math.floor(q) for p, q in quotas.items()}
    left = total - sum(out.values())
    rank = sorted(parties, key=lambda p: (-(quotas[p] - out[p]), parties.index(p)))
    for p in rank[:left]:
        out[p] += 1
    return out


def _dot(a: list[float], b: list[float]) -> float:
    return math.fsum(x * y for x, y in zip(a, b, strict=True))


# --------------------------------------------------------------------------- #
# Meter records (the only part that reads a run)
# --------------------------------------------------------------------------- #


#: The cost categories a meter record carries hour by hour (the fixed ones come
#: from the agreement, :func:`settle_period`).
METERED_COSTS = ("generation", "imports", "diesel", "mining_opex")

#: A site's demand-response payments, each its own pool and statement line.
DR_KINDS = ("availability", "energy")
DR_ITEMS = {"availability": "demand-response availability payment",
            "energy": "demand-response payment for energy curtailed on call"}


def meter_record(acc: Accounts, period: int, start: str) -> dict[str, Any]:
    """The JSON-ready record :func:`settle_period` reads, from the accounts of one
    settlement period (one path; :meth:`gridhash.accounts.Accounts.hour_slice`):
    hourly energies, prices, BTC yields, the metered cost categories and, where sites
    have a demand-response programme, each one's hourly payments [USD]."""
    f, r = acc.flows, acc.rates

    def lst(a: np.ndarray) -> list[float]:
        return [float(v) for v in np.asarray(a, dtype=float)]

    dr = {
        site: {kind: lst(acc.hourly(f"demand_response_{kind}_usd:{site}")[0])
               for kind in DR_KINDS}
        for site in acc.demand_response_sites
    }
    return ({"demand_response": dr} if dr else {}) | {
        "period": period,
        "start": start,
        "hours": acc.hours,
        "offtakes": {
            name: {
                "delivered_mwh": lst(f.delivered[0, o]),
                "price_usd_per_mwh": lst(r.offtake_price_usd_per_mwh[0, o]),
                "unserved_firm_mwh": lst(f.unserved[0, o]),
            }
            for o, name in enumerate(acc.offtake_names)
        },
        "miners": {
            name: {
                "mwh": lst(f.mining[0, k]),
                "btc_per_mwh": lst(r.btc_per_mwh[0, k]),
                "usd_per_mwh": lst(r.mining_usd_per_mwh[0, k]),
            }
            for k, name in enumerate(acc.class_names)
        },
        "costs_usd": {cat: lst(acc.hourly(f"cost_usd:{cat}")[0]) for cat in METERED_COSTS},
        "generation_mwh": lst(acc.hourly("generated_mwh")[0]),
    }


def meter_records(run: Run, agreement: Agreement) -> list[dict[str, Any]]:
    """One JSON-ready record per settlement period of a run, read from its accounts."""
    acc = run.accounts
    P = agreement.settlement_period_hours
    T = acc.hours
    return [
        meter_record(acc.hour_slice(s, min(s + P, T)), n,
                     run.inputs.index[s].strftime("%Y-%m-%dT%H:%MZ"))
        for n, s in enumerate(range(0, T, P))
    ]


# --------------------------------------------------------------------------- #
# Statements
# --------------------------------------------------------------------------- #


def settle_period(meter: dict[str, Any], agreement: Agreement) -> dict[str, Any]:
    """The period's statements: one per party, plus every pool and its allocation."""
    order = [p.id for p in agreement.parties]
    hours = int(meter["hours"])
    payers = {t.offtake: t.payer for t in agreement.prices}
    pools: list[dict[str, Any]] = []
    lines: dict[str, list[dict[str, Any]]] = {pid: [] for pid in order}
    energy: dict[str, dict[str, int]] = {pid: {} for pid in order}

    def pool(name: str, unit: str, total: int, shares: dict[str, float], sign: int,
             item: str) -> None:
        alloc = allocate(total, shares, order)
        pools.append({"pool": name, "unit": unit, "total": total, "allocated": alloc})
        for pid, v in alloc.items():
            lines[pid].append({"item": item, "pool": name, unit: sign * v})

    # Energy: net energy by entitlement; energy delivered to each offtake to its payer.
    # Offtakes, classes and cost categories are taken in sorted order, so a record
    # read back from canonical JSON (sorted keys) settles to the same statement.
    offt = {k: meter["offtakes"][k] for k in sorted(meter["offtakes"])}
    miners = {k: meter["miners"][k] for k in sorted(meter["miners"])}
    net_mwh = math.fsum(math.fsum(o["delivered_mwh"]) for o in offt.values()) + math.fsum(
        math.fsum(m["mwh"]) for m in miners.values()
    )
    net_kwh = round_units(net_mwh, 1000)
    shares_kwh = allocate(net_kwh, agreement.entitlements, order)
    for pid, v in shares_kwh.items():
        energy[pid]["entitlement"] = v
    pools.append({"pool": "net_energy", "unit": "kwh", "total": net_kwh, "allocated": shares_kwh})

    # Grid sales: entitlement holders receive; the offtake's payer (if a party) pays.
    for name, o in offt.items():
        total = cents(_dot(o["delivered_mwh"], o["price_usd_per_mwh"]))
        pool(f"grid:{name}", "cents", total, agreement.entitlements, +1, f"grid sales to {name}")
        payer = payers.get(name)
        if payer:
            lines[payer].append({"item": f"pays for energy delivered to {name}",
                                 "pool": f"grid:{name}", "cents": -total})
            energy[payer][f"received:{name}"] = round_units(math.fsum(o["delivered_mwh"]), 1000)

    # Mining: BTC and its USD value to the fleet's owners.
    owners = agreement.mining.owners
    btc = sats(math.fsum(_dot(m["mwh"], m["btc_per_mwh"]) for m in miners.values()))
    pool("btc", "sats", btc, owners, +1, "BTC mined")
    value = cents(math.fsum(_dot(m["mwh"], m["usd_per_mwh"]) for m in miners.values()))
    pool("mining_value", "cents", value, owners, +1, "mining revenue (BTC at the hours' prices)")
    mined_mwh = math.fsum(math.fsum(m["mwh"]) for m in miners.values())
    purchase = cents(mined_mwh * agreement.mining.energy_price_usd_per_mwh)
    if purchase:
        pool("mining_power:paid", "cents", purchase, owners, -1, "power bought for mining")
        pool("mining_power:received", "cents", purchase, agreement.entitlements, +1,
             "power sold to mining")

    # Demand response: each site's payments, per kind, to the fleet's owners.
    dr = meter.get("demand_response") or {}
    for site in sorted(dr):
        for kind in DR_KINDS:
            pool(f"demand_response:{kind}:{site}", "cents", cents(math.fsum(dr[site][kind])),
                 owners, +1, f"{DR_ITEMS[kind]} at {site}")

    # Costs, each category by its shares.
    for cat, hourly in sorted(meter["costs_usd"].items()):
        pool(f"cost:{cat}", "cents", cents(math.fsum(hourly)), agreement.cost_shares(cat), -1,
             f"cost: {cat.replace('_', ' ')}")
    for cat, per_year in (
        ("fixed_om", agreement.costs.fixed_om_usd_per_year),
        ("fleet_capital", agreement.costs.fleet_capital_usd_per_year),
    ):
        if per_year:
            amount = cents(per_year * hours / HOURS_PER_YEAR)
            pool(f"cost:{cat}", "cents", amount, agreement.cost_shares(cat), -1,
                 f"cost: {cat.replace('_', ' ')}")

    statements = []
    for pid in order:
        items = lines[pid]
        party = agreement.party(pid)
        cash = [x["cents"] for x in items if "cents" in x and x["pool"] != "mining_value"]
        revenue = sum(x["cents"] for x in items if x.get("cents", 0) > 0)
        costs = -sum(x["cents"] for x in items if x.get("cents", 0) < 0)
        statement = {
            "party": pid,
            "name": party.name,
            "role": party.role,
            "energy_kwh": energy[pid],
            "items": items,
            "revenue_cents": revenue,
            "costs_cents": costs,
            "btc_sats": sum(x.get("sats", 0) for x in items),
            "usd_owed_cents": sum(cash),
        }
        if dr:  # a record without programmes settles to the statement it always did
            statement["demand_response_cents"] = sum(
                x["cents"] for x in items if x["pool"].startswith("demand_response:"))
        statements.append(statement)
    unserved = math.fsum(math.fsum(o["unserved_firm_mwh"]) for o in offt.values())
    return {
        "agreement": agreement.name,
        "period": int(meter["period"]),
        "start": meter["start"],
        "hours": hours,
        "unserved_firm_kwh": round_units(unserved, 1000),
        "statements": statements,
        "pools": pools,
    }


def settle(run: Run, agreement: Agreement) -> list[dict[str, Any]]:
    """Statements for every period of a run."""
    return [settle_period(m, agreement) for m in meter_records(run, agreement)]


def totals(periods: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per party: the periods' statements added up (integers)."""
    out: dict[str, dict[str, int]] = {}
    for per in periods:
        for s in per["statements"]:
            t = out.setdefault(s["party"], {"revenue_cents": 0, "costs_cents": 0, "btc_sats": 0,
                                            "usd_owed_cents": 0, "demand_response_cents": 0,
                                            "entitlement_kwh": 0})
            for k in ("revenue_cents", "costs_cents", "btc_sats", "usd_owed_cents"):
                t[k] += s[k]
            t["demand_response_cents"] += s.get("demand_response_cents", 0)
            t["entitlement_kwh"] += s["energy_kwh"].get("entitlement", 0)
    return out
