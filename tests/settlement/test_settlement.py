"""Agreements in the dispatch, exact settlement, and statements on the ledger."""

from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridhash.errors import ScenarioError
from gridhash.pipeline import run_scenario
from gridhash.settlement.statements import allocate, cents, sats, settle, settle_period

from conftest import tiny_scenario
from helpers import loaded, run_cli, write_scenario


def agreement(**over: Any) -> dict[str, Any]:
    a = {
        "name": "deal",
        "entitlements": {"a": 0.5, "b": 0.5},
        "parties": [
            {"id": "op", "name": "Operator", "role": "operator"},
            {"id": "a", "name": "Owner A", "role": "owner"},
            {"id": "b", "name": "Owner B", "role": "owner"},
            {"id": "city", "name": "City utility", "role": "offtaker"},
            {"id": "mon", "name": "Monitor", "role": "monitor"},
        ],
        "obligations": [],
        "prices": [{"offtake": "city", "payer": "city"}],
        "mining": {"owners": {"a": 0.3, "b": 0.7}, "energy_price_usd_per_mwh": 20.0},
        "costs": {"fixed_om_usd_per_year": 1_000_000.0},
        "approval": {"role": "owner", "required": 2, "vetoes": ["mon"]},
    }
    a.update(over)
    return a


def scenario(hours: int = 72, **over: Any) -> dict[str, Any]:
    return tiny_scenario(hours=hours, agreements=[agreement(**over)])


# --------------------------------------------------------------------------- #
# Rounding and allocation
# --------------------------------------------------------------------------- #


def test_rounding_is_half_even_on_the_floats_exact_value() -> None:
    assert cents(0.125) == 12  # 0.125 is exact: half to even
    assert cents(0.375) == 38
    assert cents(0.135) == 14  # the float 0.135 is 0.13500000000000000888…
    assert cents(-0.125) == -12
    assert sats(1e-8) == 1 and sats(2.5) == 250_000_000 and sats(0.123456785) == 12345678
    # The float 5e-9 is 5.0000000000000001e-9: above the half, so it rounds up.
    assert sats(0.5e-8) == 1


def test_allocation_worked_by_hand() -> None:
    order = ["a", "b", "c"]
    assert allocate(100, {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}, order) == {"a": 34, "b": 33, "c": 33}
    # Largest remainder: quotas 1.5 and 2.5 (exact binary shares) → floors 1 and 2; the
    # left-over unit goes to the tie broken by agreement order.
    assert allocate(4, {"a": 0.375, "b": 0.625}, ["a", "b"]) == {"a": 2, "b": 2}
    assert allocate(4, {"a": 0.375, "b": 0.625}, ["b", "a"]) == {"a": 1, "b": 3}
    # Not a tie: 0.335 as a float is just above 0.335, so a's remainder is larger.
    assert allocate(100, {"a": 0.335, "b": 0.665}, ["b", "a"]) == {"a": 34, "b": 66}
    assert allocate(-7, {"a": 0.5, "b": 0.5}, ["a", "b"]) == {"a": -4, "b": -3}
    assert allocate(0, {"a": 1.0}, ["a"]) == {"a": 0}


@settings(max_examples=200, deadline=None)
@given(
    total=st.integers(-10**12, 10**12),
    weights=st.lists(st.floats(0.001, 1.0), min_size=1, max_size=7),
)
def test_allocation_adds_up_exactly_and_is_fair(total: int, weights: list[float]) -> None:
    w = sum(weights)
    shares = {f"p{i}": x / w for i, x in enumerate(weights)}
    order = list(shares)
    out = allocate(total, shares, order)
    assert sum(out.values()) == total
    wsum = sum(shares.values())
    for p, v in out.items():
        quota = total * shares[p] / wsum
        assert abs(v - quota) < 1 + 1e-6 * abs(total)
    assert allocate(total, shares, order) == out  # deterministic


# --------------------------------------------------------------------------- #
# Agreements in the dispatch
# --------------------------------------------------------------------------- #


def test_obligation_is_served_before_mining_in_its_months() -> None:
    # 70 MW to the city with priority: more than the default 20 MW firm.
    data = scenario(obligations=[{"offtake": "city", "mw": 70.0, "months": [1]}])
    base = run_scenario(loaded(data))
    deal = run_scenario(loaded(data), agreement="deal")
    assert np.allclose(deal.inputs.offtake_firm_mw[0], 70.0)
    assert np.allclose(base.inputs.offtake_firm_mw[0], 20.0)
    r = deal.result
    served = r.delivered_mw[0] + r.unserved_mw[0]
    assert (served >= 70.0 - 1e-6).all()
    # In hours where the obligation is not fully met, nothing is mined.
    short = r.unserved_mw[0] > 1e-6
    assert (r.total_mining_mw[short] <= 1e-6).all()
    assert r.total_mining_mw.sum() <= base.result.total_mining_mw.sum() + 1e-6


def test_price_term_replaces_the_market_price() -> None:
    data = scenario(prices=[{"offtake": "city", "price_usd_per_mwh": 5.0, "payer": "city"}])
    run = run_scenario(loaded(data), agreement="deal")
    assert np.allclose(run.problem.offtake_price_usd_per_mwh[0], 5.0)
    # At 5 USD/MWh the grid is worth less than mining: only the firm 20 MW goes there.
    assert np.allclose(run.result.grid_mw, 20.0, atol=1e-6)


@pytest.mark.parametrize(
    ("over", "words"),
    [
        ({"entitlements": {"a": 0.5, "b": 0.4}}, "add up to 1"),
        ({"entitlements": {"a": 0.5, "zz": 0.5}}, "unknown party 'zz'"),
        ({"entitlements": {"a": 0.5, "city": 0.5}}, "is a offtaker"),
        ({"prices": [{"offtake": "city", "payer": "a"}]}, "expected offtaker"),
        ({"approval": {"role": "owner", "required": 3}}, "approval needs 3 owner"),
        ({"costs": {"shares": {"fuel": {"a": 1.0}}}}, "unknown cost category 'fuel'"),
        ({"mining": {"owners": {"a": 1.2}}}, "must lie in [0, 1]"),
    ],
)
def test_bad_agreements_are_refused(over: dict[str, Any], words: str) -> None:
    with pytest.raises(ScenarioError) as info:
        loaded(scenario(**over))
    assert words in str(info.value) and "agreements[0]" in str(info.value)


def test_unknown_offtake_and_agreement_name(tmp_path: Path) -> None:
    data = scenario(obligations=[{"offtake": "nowhere", "mw": 1.0}])
    path = write_scenario(tmp_path, data)
    res = run_cli("run", str(path), "--agreement", "deal", "--out", str(tmp_path / "o"))
    assert res.exit_code == 2 and "agreements[0].obligations[0].offtake" in res.stderr
    assert "nowhere" in res.stderr and "Traceback" not in res.output
    res = run_cli("run", str(path), "--out", str(tmp_path / "o"))  # without --agreement too
    assert res.exit_code == 2 and "agreements[0].obligations[0].offtake" in res.stderr
    path = write_scenario(tmp_path, scenario())
    res = run_cli("settle", str(path), "--agreement", "nope", "--out", str(tmp_path / "o"),
                  "--demo-keys", str(tmp_path / "k"))
    assert res.exit_code == 2 and "unknown agreement 'nope'" in res.stderr


# --------------------------------------------------------------------------- #
# Statements
# --------------------------------------------------------------------------- #


def test_statements_balance_exactly_and_match_the_dispatch() -> None:
    run = run_scenario(loaded(scenario(hours=72)), agreement="deal")
    assert run.agreement is not None
    periods = settle(run, run.agreement)
    assert [p["hours"] for p in periods] == [24, 24, 24]
    for per in periods:
        for pool in per["pools"]:
            assert sum(pool["allocated"].values()) == pool["total"], pool["pool"]
        by = {s["party"]: s for s in per["statements"]}
        grid = next(p for p in per["pools"] if p["pool"] == "grid:city")["total"]
        # The city pays exactly what the owners receive for its energy.
        assert by["city"]["usd_owed_cents"] == -grid
        assert by["a"]["energy_kwh"]["entitlement"] + by["b"]["energy_kwh"]["entitlement"] == (
            next(p for p in per["pools"] if p["pool"] == "net_energy")["total"]
        )
        # BTC goes to the fleet's owners only, 30/70.
        btc = next(p for p in per["pools"] if p["pool"] == "btc")
        assert by["a"]["btc_sats"] + by["b"]["btc_sats"] == btc["total"] > 0
        assert by["op"]["btc_sats"] == 0 and by["mon"]["usd_owed_cents"] == 0
    # Totals agree with the dispatch to the cent.
    r, p = run.result, run.problem
    grid_usd = float((p.offtake_price_usd_per_mwh * r.delivered_mw).sum())
    paid = -sum(s["usd_owed_cents"] for per in periods for s in per["statements"]
                if s["party"] == "city")
    assert abs(paid / 100 - grid_usd) <= 0.01 * len(periods)


def test_statement_is_a_pure_function_of_the_meter_record_read_back_from_json() -> None:
    from gridhash.settlement.statements import meter_records

    run = run_scenario(loaded(scenario(hours=48)), agreement="deal")
    meters = meter_records(run, run.agreement)
    again = json.loads(json.dumps(meters, sort_keys=True))
    assert [settle_period(m, run.agreement) for m in again] == settle(run, run.agreement)


# --------------------------------------------------------------------------- #
# settle → ledger → verify
# --------------------------------------------------------------------------- #


@pytest.fixture
def settled(tmp_path: Path) -> Path:
    path = write_scenario(tmp_path, scenario(hours=72))
    out = tmp_path / "out"
    res = run_cli("settle", str(path), "--out", str(out), "--demo-keys", str(out / "keys"))
    assert res.exit_code == 0, res.output
    assert "DEMO KEYS" in res.stderr  # one visible warning line on every demo run
    return out


def test_settle_writes_statements_keys_and_a_ledger_that_verifies(settled: Path) -> None:
    doc = json.loads((settled / "statements.json").read_text())
    assert doc["agreement"] == "deal" and len(doc["periods"]) == 3
    csv = (settled / "statements.csv").read_text().splitlines()
    assert csv[0].startswith("period,start,party") and len(csv) == 1 + 3 * 5
    for party in ("op", "a", "b", "city", "mon"):
        key = settled / "keys" / f"{party}.key"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert (settled / "keys" / f"{party}.pub").exists()
    res = run_cli("ledger", "verify", str(settled / "ledger.sqlite"), "--keys",
                  str(settled / "keys"))
    assert res.exit_code == 0, res.output


def _forge(tmp_path: Path, settled: Path, edit: Any) -> tuple[int, Any]:
    """Rewrite the first statement as a dishonest operator holding the parties' keys would:
    a new ledger with every entry copied, that statement edited, hashes and tree recomputed
    and the head signed with the parties' keys; then verify it.  (seq, CLI result)."""
    from gridhash.ledger.signing import load_keys
    from gridhash.ledger.store import Ledger

    with Ledger.open(settled / "ledger.sqlite", readonly=True) as L:
        entries = list(L.entries())
    target = next(e for e in entries if e.kind == "statement")
    items = [(e.kind, edit(e.payload) if e.seq == target.seq else e.payload) for e in entries]
    forged = tmp_path / "forged.sqlite"
    with Ledger.create(forged) as L:
        L.append_many(items)
        L.sign_head(load_keys(settled / "keys"))
    return target.seq, run_cli("ledger", "verify", str(forged), "--keys", str(settled / "keys"))


def test_a_wrong_statement_is_caught_even_when_the_log_is_consistent(tmp_path: Path,
                                                                      settled: Path) -> None:
    """An operator appends a statement whose numbers do not follow from the meter records:
    hashes, tree and head signatures are all valid, but recomputation finds it."""

    def inflate(payload: dict[str, Any]) -> dict[str, Any]:
        payload["statements"][1]["usd_owed_cents"] += 100
        return payload

    seq, res = _forge(tmp_path, settled, inflate)
    assert res.exit_code == 1
    assert f"entry {seq}" in res.output and "statement.statements[1].usd_owed_cents" in res.output


def test_a_statement_not_signed_by_a_party_is_caught(tmp_path: Path, settled: Path) -> None:
    from gridhash.ledger.signing import generate_key
    from gridhash.settlement.record import unsigned

    imposter = generate_key(tmp_path / "other", "b")

    def resign(payload: dict[str, Any]) -> dict[str, Any]:
        payload["signatures"]["b"] = imposter.sign(unsigned(payload)).hex()
        return payload

    seq, res = _forge(tmp_path, settled, resign)
    assert res.exit_code == 1 and "signatures.b" in res.output and f"entry {seq}" in res.output


def test_editing_a_stored_statement_in_place_is_caught(settled: Path) -> None:
    db = settled / "ledger.sqlite"
    con = sqlite3.connect(db)
    # The store guards against this with triggers; an attacker with the file drops them.
    for (name,) in con.execute("select name from sqlite_master where type='trigger'").fetchall():
        con.execute(f"drop trigger {name}")
    table = next(
        name for (name,) in con.execute("select name from sqlite_master where type='table'")
        if name.startswith("entr")
    )
    cols = [r[1] for r in con.execute(f"pragma table_info({table})")]
    payload_col = next(c for c in cols if "payload" in c)
    kind_col = next(c for c in cols if c == "kind")
    row = con.execute(
        f"select rowid, {payload_col} from {table} where {kind_col}='statement' limit 1"
    ).fetchone()
    con.execute(f"update {table} set {payload_col}=? where rowid=?",
                (row[1].replace('"btc_sats":', '"btc_sats":1', 1), row[0]))
    con.commit()
    con.close()
    res = run_cli("ledger", "verify", str(db), "--keys", str(settled / "keys"))
    assert res.exit_code == 1 and "leaf_hash" in res.output


@pytest.mark.slow
def test_compare_runs_every_agreement_side_by_side() -> None:
    res = run_cli("compare", "znpp", "--json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert [r["agreement"] for r in rows] == ["bilateral", "ukraine-international"]
    bi, ua = rows
    # Under Kyiv's model Ukrenergo pays the agreed 100 USD/MWh for what it receives.
    owed = ua["parties"]["ukrenergo"]["usd_owed"]
    assert owed == pytest.approx(-100.0 * ua["grid_mwh"]["ukraine-ips"], abs=0.01 * 366)
    assert bi["unserved_firm_mwh"] != ua["unserved_firm_mwh"]
    assert "ukrenergo" not in bi["parties"] and bi["btc_mined"] > 0
    # one reference for all: the scenario's firm deficit, beside each one's own obligation
    assert bi["grid_first"] is False and ua["grid_first"] is True
    for r in rows:
        assert r["short_of_scenario_deficit_mwh"] >= 0.0
    res = run_cli("compare", "znpp", "--agreement", "bilateral")
    assert res.exit_code == 0 and "bilateral" in res.stdout
    assert "short of the scenario's deficit" in res.stdout
    assert "short of its own obligation" in res.stdout
    assert "by value" in res.stdout


def test_grid_first_agreement_mines_only_what_the_grid_cannot_take(builtin_run) -> None:
    by_value = builtin_run("znpp", agreement="bilateral")
    first = builtin_run("znpp", agreement="ukraine-international")
    assert not by_value.agreement.grid_first and first.agreement.grid_first
    for run, strict in ((by_value, False), (first, True)):
        r, p = run.result, run.problem
        mined = r.total_mining_mw > 1e-6
        room = (r.delivered_mw < p.offtake_cap_mw - 1e-6).any(axis=0)
        # by value, mining runs in hours where the grid could take more (the issue:
        # 21 % of mining); grid first, never
        assert (mined & room).any() != strict, int((mined & room).sum())


# --------------------------------------------------------------------------- #
# Demand-response payments in the statements
# --------------------------------------------------------------------------- #


def dr_scenario(hours: int = 72) -> dict[str, Any]:
    data = scenario(hours=hours)
    data["mining"]["sites"][0]["demand_response"] = {
        "strike_usd_per_mwh": 75.0, "hours_above": 2, "hours_below": 2, "min_hold_hours": 3,
        "enrolled_mw": 17.3, "availability_usd_per_mw_h": 1.37,
        "curtailed_usd_per_mwh": 41.13,
        "calls": [{"start": "2027-01-02T03:00:00Z", "hours": 3, "reason": "grid call"}],
    }
    return data


def test_demand_response_payments_are_statement_lines_in_cents_that_reconcile() -> None:
    """Each site's availability and on-call payments are pools and statement lines in
    integer cents, read from the accounts (per period: the pool is round(accounts' USD
    × 100)), shared by the fleet's owners to the cent; the statements' totals add up."""
    from gridhash.settlement.statements import DR_ITEMS, meter_records, totals

    run = run_scenario(loaded(dr_scenario()), agreement="deal")
    assert run.agreement is not None and run.inputs.site_dr_codes.any()
    periods = settle(run, run.agreement)
    meters = meter_records(run, run.agreement)
    seen = {"availability": 0, "energy": 0}
    for n, per in enumerate(periods):
        acc = run.accounts.hour_slice(24 * n, 24 * (n + 1))
        pools = {p["pool"]: p for p in per["pools"]}
        by = {s["party"]: s for s in per["statements"]}
        for kind in ("availability", "energy"):
            line = f"demand_response_{kind}_usd:S"
            usd = float(acc.totals((line,))[line][0])
            pool = pools[f"demand_response:{kind}:S"]
            assert pool["unit"] == "cents" and isinstance(pool["total"], int)
            assert pool["total"] == round(usd * 100)
            assert pool["total"] == cents(sum(meters[n]["demand_response"]["S"][kind]))
            assert sum(pool["allocated"].values()) == pool["total"]
            assert set(pool["allocated"]) == {"a", "b"}  # the fleet's owners, 30/70
            assert abs(pool["allocated"]["a"] - 0.3 * pool["total"]) < 1
            seen[kind] += pool["total"]
            for pid, v in pool["allocated"].items():
                assert {"item": f"{DR_ITEMS[kind]} at S", "pool": pool["pool"],
                        "cents": v} in by[pid]["items"]
        for pid, stmt in by.items():
            own = [x["cents"] for x in stmt["items"] if x["pool"].startswith("demand_response:")]
            assert stmt["demand_response_cents"] == sum(own)
            assert (pid in ("a", "b")) == bool(own)
            # in revenue and in the cash owed (money, paid by the programme)
            assert stmt["revenue_cents"] == sum(x.get("cents", 0) for x in stmt["items"]
                                              if x.get("cents", 0) > 0)
        assert sum(s["demand_response_cents"] for s in per["statements"]) == sum(
            p["total"] for k, p in pools.items() if k.startswith("demand_response:"))
    assert seen["availability"] > 0 and seen["energy"] == round(3 * 17.3 * 41.13 * 100)
    # The totals over the periods add up exactly, party by party.
    tot = totals(periods)
    for pid, t in tot.items():
        assert t["demand_response_cents"] == sum(
            s["demand_response_cents"] for per in periods for s in per["statements"]
            if s["party"] == pid)
    assert sum(t["demand_response_cents"] for t in tot.values()) == sum(seen.values())
    # The accounts' line is the same money: the statements are within a cent a pool of it.
    whole = float(run.accounts.totals(("demand_response_revenue_usd",))[
        "demand_response_revenue_usd"][0])
    assert abs(sum(seen.values()) - whole * 100) <= 2 * len(periods)


def test_a_record_without_demand_response_settles_as_before() -> None:
    """No programme: no DR pools, lines or fields (statements already on ledgers stay
    valid when recomputed)."""
    run = run_scenario(loaded(scenario(hours=48)), agreement="deal")
    from gridhash.settlement.statements import meter_records

    assert all("demand_response" not in m for m in meter_records(run, run.agreement))
    for per in settle(run, run.agreement):
        assert not any(p["pool"].startswith("demand_response") for p in per["pools"])
        assert all("demand_response_cents" not in s for s in per["statements"])


def test_demand_response_statements_on_the_ledger_verify_and_a_changed_line_is_caught(
        tmp_path: Path) -> None:
    path = write_scenario(tmp_path, dr_scenario(hours=48))
    out = tmp_path / "out"
    res = run_cli("settle", str(path), "--out", str(out), "--demo-keys", str(out / "keys"))
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "statements.json").read_text())
    assert doc["totals"]["a"]["demand_response_cents"] > 0
    csv = (out / "statements.csv").read_text().splitlines()
    assert csv[0].endswith(",demand_response_cents")
    assert sum(int(r.split(",")[-1]) for r in csv[1:]) == sum(
        t["demand_response_cents"] for t in doc["totals"].values())
    res = run_cli("ledger", "verify", str(out / "ledger.sqlite"), "--keys", str(out / "keys"))
    assert res.exit_code == 0, res.output

    def edit(payload: dict[str, Any]) -> dict[str, Any]:
        b = next(s for s in payload["statements"] if s["party"] == "b")
        item = next(x for x in b["items"] if x["pool"].startswith("demand_response:"))
        item["cents"] += 1
        b["demand_response_cents"] += 1
        return payload

    seq, res = _forge(tmp_path, out, edit)
    assert res.exit_code != 0 and f"entry {seq}" in res.output
