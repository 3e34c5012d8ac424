"""Tests of gridhash.bitcoin.subsidy: consensus subsidy and its hourly expectation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridhash.bitcoin.subsidy import (
    BLOCKS_PER_HOUR,
    HALVING_INTERVAL,
    INITIAL_SUBSIDY_SAT,
    SATOSHI_PER_BTC,
    block_subsidy_btc,
    block_subsidy_sat,
    height_at_hour,
    mean_subsidy_btc_per_block,
    next_halving_height,
)


def test_constants() -> None:
    assert HALVING_INTERVAL == 210_000
    assert INITIAL_SUBSIDY_SAT == 5_000_000_000
    assert SATOSHI_PER_BTC == 100_000_000
    assert BLOCKS_PER_HOUR == 6.0


@pytest.mark.parametrize(
    ("height", "expected_sat"),
    [
        (0, 5_000_000_000),  # genesis era: 50 BTC
        (209_999, 5_000_000_000),  # last block before the first halving
        (210_000, 2_500_000_000),  # first halving: 25 BTC
        (630_000, 625_000_000),  # third halving (May 2020): 6.25 BTC
        (840_000, 312_500_000),  # fourth halving (April 2024): 3.125 BTC
        (1_050_000, 156_250_000),  # fifth halving: 1.5625 BTC
        (6_719_999, 2),  # era 31: 5e9 >> 31 = 2 sat
        (6_720_000, 1),  # era 32: 5e9 >> 32 = 1 sat (5e9 / 2**32 = 1.16)
        (6_929_999, 1),  # last block with a subsidy
        (6_930_000, 0),  # era 33: 5e9 < 2**33, the shift gives 0
        (13_440_000, 0),  # era 64: the consensus code returns 0 outright
        (10**12, 0),
    ],
)
def test_block_subsidy_hand_values(height: int, expected_sat: int) -> None:
    got = block_subsidy_sat(height)
    assert isinstance(got, np.integer)
    assert got == expected_sat
    assert block_subsidy_btc(height) == pytest.approx(expected_sat / 1e8, abs=0)


def test_block_subsidy_btc_at_840000_is_3_125() -> None:
    assert block_subsidy_btc(840_000) == 3.125


def test_block_subsidy_vectorized_keeps_shape() -> None:
    heights = np.array([[0, 210_000], [420_000, 6_930_000]])
    got = block_subsidy_sat(heights)
    assert got.shape == (2, 2)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, [[5_000_000_000, 2_500_000_000], [1_250_000_000, 0]])
    np.testing.assert_array_equal(
        block_subsidy_btc([0, 840_000.0]), np.array([50.0, 3.125])
    )  # integral floats are accepted


@pytest.mark.parametrize("bad", [-1, [0, -5], -210_000])
def test_negative_height_raises(bad: object) -> None:
    with pytest.raises(ValueError, match=">= 0"):
        block_subsidy_sat(bad)


@pytest.mark.parametrize("bad", [0.5, [1.0, np.nan], np.inf])
def test_fractional_height_raises(bad: object) -> None:
    with pytest.raises(ValueError, match="whole number"):
        block_subsidy_sat(bad)


def test_total_supply_is_20999999_9769_btc() -> None:
    # Well-known total supply (Bitcoin Wiki, "Controlled supply"): the sum of
    # 210,000 * subsidy over every era, exactly 2,099,999,997,690,000 sat.
    era_start = np.arange(64, dtype=np.int64) * HALVING_INTERVAL
    total_sat = int(np.sum(block_subsidy_sat(era_start) * HALVING_INTERVAL))
    assert total_sat == 2_099_999_997_690_000
    assert total_sat / SATOSHI_PER_BTC == 20_999_999.9769


def test_total_supply_by_integrating_hours() -> None:
    # The same figure from the hourly mean subsidy over the whole schedule
    # (6 blocks an hour until past the last non-zero era).
    hours = 6_930_000 // 6 + 10
    total_btc = float(np.sum(mean_subsidy_btc_per_block(0, hours, 6.0)) * 6.0)
    assert total_btc == pytest.approx(20_999_999.9769, rel=1e-13)


def test_next_halving_height() -> None:
    assert next_halving_height(0) == 210_000
    assert next_halving_height(839_999) == 840_000
    assert next_halving_height(840_000) == 1_050_000  # a halving height maps to the next
    # Hashrate Index, Bitcoin Hashprice Index page captured 2024-11-12, showed
    # "Blocks to go until next halving 179,980" at height 870,020.
    assert next_halving_height(870_020) - 870_020 == 179_980
    np.testing.assert_array_equal(next_halving_height([1, 420_001]), [210_000, 630_000])


def test_mean_subsidy_across_a_halving_inside_one_hour() -> None:
    # Start 839,997 at 6 blocks/h: hour 0 holds 839,997..840,002 = 3 blocks at
    # 6.25 BTC and 3 at 3.125 BTC -> (3 * 6.25 + 3 * 3.125) / 6 = 4.6875 BTC.
    got = mean_subsidy_btc_per_block(839_997, 3, 6.0)
    np.testing.assert_array_equal(got, [4.6875, 3.125, 3.125])


def test_mean_subsidy_fractional_blocks_per_hour() -> None:
    # 2.5 blocks/h from 839,999: hour 0 covers expected heights [839999, 840001.5):
    # 1 block at 6.25 + 1.5 blocks at 3.125 -> (6.25 + 4.6875) / 2.5 = 4.375.
    got = mean_subsidy_btc_per_block(839_999, 2, 2.5)
    assert got[0] == pytest.approx(4.375, rel=1e-15)
    assert got[1] == pytest.approx(3.125, rel=1e-15)


def test_mean_subsidy_default_rate_and_empty() -> None:
    assert mean_subsidy_btc_per_block(0, 0).shape == (0,)
    np.testing.assert_array_equal(mean_subsidy_btc_per_block(0, 2), [50.0, 50.0])


@pytest.mark.parametrize(
    ("start", "hours", "bph"),
    [(-1, 2, 6.0), (0, -1, 6.0), (0, 1.5, 6.0), (0, 2, 0.0), (0, 2, -6.0), (np.nan, 2, 6.0)],
)
def test_mean_subsidy_rejects_bad_inputs(start: float, hours: int, bph: float) -> None:
    with pytest.raises(ValueError):
        mean_subsidy_btc_per_block(start, hours, bph)


def test_height_at_hour() -> None:
    np.testing.assert_array_equal(height_at_hour(840_000, 3), [840_000.0, 840_006.0, 840_012.0])
    np.testing.assert_array_equal(height_at_hour(10, 3, 2.5), [10.0, 12.5, 15.0])


@given(
    h1=st.integers(min_value=0, max_value=20_000_000),
    h2=st.integers(min_value=0, max_value=20_000_000),
)
def test_subsidy_is_non_increasing_in_height(h1: int, h2: int) -> None:
    low, high = sorted((h1, h2))
    assert block_subsidy_sat(low) >= block_subsidy_sat(high)


@settings(max_examples=200)
@given(
    era=st.integers(min_value=0, max_value=34),
    offset=st.integers(min_value=-3_000, max_value=3_000),
    hours=st.integers(min_value=1, max_value=300),
    bph=st.integers(min_value=1, max_value=30),
)
def test_mean_subsidy_integrates_to_exact_block_sum(
    era: int, offset: int, hours: int, bph: int
) -> None:
    # Starts clustered around halvings so that many hours straddle one.
    start = max(era * HALVING_INTERVAL + offset, 0)
    means = mean_subsidy_btc_per_block(start, hours, float(bph))
    heights = np.arange(start, start + hours * bph)
    exact_sat = block_subsidy_sat(heights).reshape(hours, bph).sum(axis=1)
    # Per hour, mean * bph is the exact sum of that hour's block subsidies.
    np.testing.assert_allclose(means * bph * SATOSHI_PER_BTC, exact_sat, rtol=1e-14, atol=1e-6)
    assert np.sum(means * bph) * SATOSHI_PER_BTC == pytest.approx(
        float(exact_sat.sum()), rel=1e-13, abs=1e-6
    )


@given(
    start=st.floats(min_value=0, max_value=7_500_000, allow_nan=False),
    hours=st.integers(min_value=1, max_value=50),
    bph=st.floats(min_value=0.1, max_value=50, allow_nan=False),
)
def test_mean_subsidy_bounded_by_block_subsidies(start: float, hours: int, bph: float) -> None:
    means = mean_subsidy_btc_per_block(start, hours, bph)
    first = block_subsidy_btc(int(np.floor(start)))
    last = block_subsidy_btc(int(np.floor(start + hours * bph)))
    # Float edges (start + t * bph) carry ~1e-10 block of rounding, hence rtol 1e-9.
    assert np.all(means <= first * (1 + 1e-9))
    assert np.all(means >= last * (1 - 1e-9))
    assert np.all(np.diff(means) <= 1e-9 * means[:-1])  # non-increasing over time
