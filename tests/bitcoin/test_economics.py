"""Tests of gridhash.bitcoin.economics: revenue per TH, per MWh, break-even, payback."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridhash.bitcoin.economics import (
    HASHES_PER_DIFFICULTY,
    breakeven_power_price_usd_per_mwh,
    btc_per_mwh,
    btc_per_th_hour,
    hashprice_usd_per_ph_day,
    mining_value_usd_per_mwh,
    payback_days,
    power_cost_usd_per_day,
    revenue_usd_per_day,
)


def test_hashes_per_difficulty() -> None:
    assert HASHES_PER_DIFFICULTY == 4_294_967_296


def test_btc_per_th_hour_hand_worked() -> None:
    # D = 1e14: a block needs 1e14 * 2**32 hashes; 1 TH/s for an hour is
    # 3600e12 hashes = 3600e12 / (1e14 * 2**32) = 36 / 2**32 blocks
    # = 8.381903171539307e-09 blocks; reward (3.125 + 0.125) * (1 - 0.02) = 3.185 BTC
    # -> 2.6696361601352694e-08 BTC.
    got = btc_per_th_hour(1e14, 3.125, 0.125, pool_fee=0.02)
    assert got == pytest.approx(2.6696361601352694e-08, rel=1e-14)
    # Choosing D = 3600e12 / 2**32 makes one TH/s-hour worth exactly one block.
    assert btc_per_th_hour(3600e12 / 2**32, 3.125, 0.0) == pytest.approx(3.125, rel=1e-15)


def test_value_per_mwh_hand_worked() -> None:
    # 20 J/TH, cooling overhead 0.1: the ASICs get 3.6e9 / 1.1 J of each site MWh
    # -> 3.6e9 / (20 * 1.1) = 163,636,363.6 TH.  At D = 1e14 a TH is worth
    # 1e12 / (1e14 * 2**32) = 0.01 / 2**32 blocks, so 3.80995598e-4 blocks;
    # times 3.185 BTC -> 1.21347098e-3 BTC; times 60,000 $/BTC = 72.8082589 $;
    # minus 5 $/MWh opex = 67.8082589 $/MWh.
    btc = btc_per_mwh(20.0, 1e14, 3.125, 0.125, pool_fee=0.02, cooling_overhead=0.1)
    assert btc == pytest.approx(1.2134709818796677e-03, rel=1e-12)
    value = mining_value_usd_per_mwh(
        20.0, 1e14, 3.125, 0.125, 60_000.0, pool_fee=0.02, cooling_overhead=0.1, opex_usd_per_mwh=5
    )
    assert value == pytest.approx(67.80825891278006, rel=1e-12)
    assert breakeven_power_price_usd_per_mwh(
        20.0, 1e14, 3.125, 0.125, 60_000.0, pool_fee=0.02, cooling_overhead=0.1, opex_usd_per_mwh=5
    ) == pytest.approx(67.80825891278006, rel=1e-12)


def test_hashprice_matches_hashrate_index_2024_11_12() -> None:
    # Published figure: Hashrate Index (Luxor), "Bitcoin Hashprice Index" page,
    # https://data.hashrateindex.com/network-data/bitcoin-hashprice-index, as
    # captured on 2024-11-12 (urlscan.io snapshot of data.hashrateindex.com):
    # "1 BTC = $87,235", "Hashprice (Spot) $55.97 USD" [per PH/s per day],
    # "Network Difficulty 101.65 T", "Block Rewards (24h) 3.28 BTC",
    # "Fees in Blocks (24h) 4.82%".  The subsidy was 3.125 BTC (height ~870,020),
    # so fees per block = 3.125 * 0.0482 / (1 - 0.0482) = 0.158 BTC (3.283 in all).
    # Our formula gives 56.68 $/PH/day, +1.3 %.  Tolerance 2 %: the page mixes a
    # spot price with 24-hour reward averages and the index's own 144-block
    # smoothing, and bitcoin's price commonly moves 1-2 % within a day; a wrong
    # unit or a missing 2**32 would be off by orders of magnitude.
    fees = 3.125 * 0.0482 / (1 - 0.0482)
    ours = hashprice_usd_per_ph_day(101.65e12, 3.125, fees, 87_235.0)
    assert ours == pytest.approx(55.97, rel=0.02)


def test_hashprice_matches_luxor_five_year_low_2025() -> None:
    # Published figure: CoinDesk via ChainCatcher, "Data: Bitcoin hash rate falls
    # to a five-year low" (https://www.chaincatcher.com/en/article/2221432, Nov 2025):
    # Luxor hashprice $38.2 per PH/s per day, bitcoin at $91,000, difficulty "close
    # to its historical high of 152 T", fees "extremely low" (2 sat/vB).  With
    # fees taken as 0 our value is a lower bound: 37.64 $/PH/day.  Tolerance 3 %:
    # the inputs are rounded ("$91,000", "152 T") and the small fee share is unknown.
    subsidy_only = hashprice_usd_per_ph_day(152e12, 3.125, 0.0, 91_000.0)
    assert subsidy_only <= 38.2
    assert subsidy_only == pytest.approx(38.2, rel=0.03)


def test_hashprice_consistent_with_btc_per_th_hour() -> None:
    per_th_hour = btc_per_th_hour(80e12, 3.125, 0.2)
    assert hashprice_usd_per_ph_day(80e12, 3.125, 0.2, 50_000.0) == pytest.approx(
        per_th_hour * 24 * 1000 * 50_000.0, rel=1e-14
    )


def test_one_machine_revenue_per_mwh_equals_value_per_mwh() -> None:
    # A 200 TH/s, 3,500 W machine (17.5 J/TH) with 15 % cooling overhead: its daily
    # revenue divided by the site MWh it uses per day is the value of a site MWh.
    args = (95e12, 3.125, 0.1, 70_000.0)
    revenue = revenue_usd_per_day(200.0, *args, pool_fee=0.01)
    site_mwh_per_day = 3_500.0 * 1.15 * 24 / 1e6
    value = mining_value_usd_per_mwh(17.5, *args, pool_fee=0.01, cooling_overhead=0.15)
    assert revenue / site_mwh_per_day == pytest.approx(value, rel=1e-13)
    assert power_cost_usd_per_day(3_500.0, 50.0, cooling_overhead=0.15) == pytest.approx(
        site_mwh_per_day * 50.0, rel=1e-15
    )


def test_payback_days_hand_worked_and_infinite() -> None:
    # At D = 3600e12 / 2**32 one TH/s-hour finds one block, so 1 TH/s with a
    # 0.001 BTC reward earns 24 * 0.001 BTC/day = 24 $/day at 1,000 $/BTC.
    d = 3600e12 / 2**32  # 1 TH/s-hour = 1 block
    revenue = revenue_usd_per_day(1.0, d, 0.001, 0.0, 1_000.0)  # 24 * 0.001 * 1000 = 24 $/day
    assert revenue == pytest.approx(24.0, rel=1e-14)
    # 1,000 W for a day = 0.024 MWh at (100 + 25) $/MWh = 3 $/day -> margin 21 $/day.
    days = payback_days(2_100.0, 1.0, 1_000.0, d, 0.001, 0.0, 1_000.0, 100.0, opex_usd_per_mwh=25.0)
    assert days == pytest.approx(100.0, rel=1e-13)
    # Power at 1,000 $/MWh: cost 24 $/day = revenue -> margin 0 -> never pays back.
    assert payback_days(2_100.0, 1.0, 1_000.0, d, 0.001, 0.0, 1_000.0, 1_000.0) == np.inf
    # Vectorized over electricity prices.
    got = payback_days(2_100.0, 1.0, 1_000.0, d, 0.001, 0.0, 1_000.0, np.array([125.0, 2000.0]))
    np.testing.assert_allclose(got, [100.0, np.inf])


def test_broadcasting_over_hours() -> None:
    hours = 8_760
    difficulty = np.linspace(90e12, 110e12, hours)
    price = np.linspace(60_000, 80_000, hours)
    value = mining_value_usd_per_mwh(15.0, difficulty, 3.125, 0.05, price)
    assert value.shape == (hours,)
    manual = 3.6e9 / 15.0 * 1e12 / (difficulty * 2.0**32) * 3.175 * price
    np.testing.assert_allclose(value, manual, rtol=1e-13)
    # Broadcasting a fleet (column) against hours (row).
    grid = btc_per_mwh(np.array([[13.5], [17.5], [29.5]]), difficulty, 3.125, 0.05)
    assert grid.shape == (3, hours)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"difficulty": 0.0}, "difficulty"),
        ({"pool_fee": 1.5}, "pool_fee"),
        ({"pool_fee": -0.1}, "pool_fee"),
        ({"cooling_overhead": -0.2}, "cooling_overhead"),
        ({"efficiency_j_per_th": 0.0}, "efficiency"),
        ({"subsidy_btc": -1.0}, "subsidy"),
    ],
)
def test_invalid_inputs_raise(kwargs: dict[str, float], match: str) -> None:
    args = {
        "efficiency_j_per_th": 20.0,
        "difficulty": 1e14,
        "subsidy_btc": 3.125,
        "fees_btc_per_block": 0.1,
        "pool_fee": 0.0,
        "cooling_overhead": 0.0,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        btc_per_mwh(**args)


positive = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False)
difficulties = st.floats(min_value=1e9, max_value=1e16, allow_nan=False)
efficiencies = st.floats(min_value=1.0, max_value=200.0, allow_nan=False)


@given(
    eff=efficiencies,
    d=difficulties,
    fees=st.floats(min_value=0.0, max_value=5.0),
    p1=positive,
    p2=positive,
    k=st.floats(min_value=0.0, max_value=1e3),
)
def test_value_per_mwh_is_linear_in_btc_price(
    eff: float, d: float, fees: float, p1: float, p2: float, k: float
) -> None:
    def v(price: float, opex: float = 0.0) -> float:
        return float(
            mining_value_usd_per_mwh(eff, d, 3.125, fees, price, 0.02, 0.1, opex_usd_per_mwh=opex)
        )

    assert v(p1 + p2) == pytest.approx(v(p1) + v(p2), rel=1e-12, abs=1e-300)
    assert v(k * p1) == pytest.approx(k * v(p1), rel=1e-12, abs=1e-300)
    assert v(p1, opex=7.0) == pytest.approx(v(p1) - 7.0, rel=1e-12, abs=1e-9)


@given(eff=efficiencies, d1=difficulties, d2=difficulties, price=positive)
def test_value_per_mwh_decreases_with_difficulty(
    eff: float, d1: float, d2: float, price: float
) -> None:
    low, high = sorted((d1, d2))
    v_low = mining_value_usd_per_mwh(eff, low, 3.125, 0.1, price)
    v_high = mining_value_usd_per_mwh(eff, high, 3.125, 0.1, price)
    # Weakly decreasing at float resolution; strictly once the inputs differ noticeably.
    assert v_low >= v_high
    if high > low * (1 + 1e-9):
        assert v_low > v_high


@given(e1=efficiencies, e2=efficiencies, d=difficulties, price=positive)
def test_value_per_mwh_decreases_with_efficiency(
    e1: float, e2: float, d: float, price: float
) -> None:
    low, high = sorted((e1, e2))
    v_low = mining_value_usd_per_mwh(low, d, 3.125, 0.1, price)
    v_high = mining_value_usd_per_mwh(high, d, 3.125, 0.1, price)
    # Weakly decreasing at float resolution; strictly once the inputs differ noticeably.
    assert v_low >= v_high
    if high > low * (1 + 1e-9):
        assert v_low > v_high
