"""The one valuation of mining equipment over its life (gridhash economics and size)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridhash.bitcoin.economics import (
    btc_per_mwh,
    first_year,
    lifetime_value,
    revenue_factors,
    revenue_growth_per_year,
)


def test_lifetime_value_by_hand() -> None:
    # 1,000 USD of revenue and 10 MWh a year for two years (revenue halves in year 2),
    # power 30 + opex 10 USD/MWh, price 1,000, resale 10 %, 10 %/yr.
    v = lifetime_value(1000.0, 10.0, 1000.0, power_price_usd_per_mwh=30.0,
                       factors=[1.0, 0.5], opex_usd_per_mwh=10.0, discount_rate=0.10,
                       resale_fraction=0.10)
    d1, d2 = 1 / 1.1, 1 / 1.1**2
    npv = d1 * (1000 - 400) + d2 * (500 - 400) - 1000 + 100 * d2
    assert v.npv_usd == pytest.approx(npv)
    # payback: 600 in year 1, 100 in year 2: 700 < 1000, never within the life
    assert v.payback_years == np.inf
    assert v.breakeven_power_usd_per_mwh == pytest.approx(
        (1000 * d1 + 500 * d2 - 10 * 10 * (d1 + d2) - 1000 + 100 * d2) / (10 * (d1 + d2)))


@settings(max_examples=60, deadline=None)
@given(st.floats(1, 1e6), st.floats(0.1, 1e4), st.floats(0, 1e6), st.floats(0, 200),
       st.lists(st.floats(0.05, 2.0), min_size=1, max_size=6), st.floats(0, 50),
       st.floats(0, 0.3), st.floats(0, 0.5))
def test_breakevens_make_npv_zero(revenue, energy, price, power, factors, opex, rate,
                                  resale) -> None:
    kw = dict(factors=factors, opex_usd_per_mwh=opex, discount_rate=rate,
              resale_fraction=resale)
    v = lifetime_value(revenue, energy, price, power_price_usd_per_mwh=power, **kw)
    at_power = lifetime_value(revenue, energy, price,
                              power_price_usd_per_mwh=v.breakeven_power_usd_per_mwh, **kw)
    scaled = lifetime_value(revenue * v.breakeven_revenue_scale, energy, price,
                            power_price_usd_per_mwh=power, **kw)
    tol = 1e-7 * (revenue * len(factors) + price + energy * (power + opex) + 1.0)
    assert at_power.npv_usd == pytest.approx(0.0, abs=tol)
    assert scaled.npv_usd == pytest.approx(0.0, abs=tol)
    # payback within the life exactly when the undiscounted cash repays the price
    cash = np.cumsum(revenue * np.array(factors) - energy * (power + opex))
    assert np.isfinite(v.payback_years) == bool((cash >= price).any())


def test_revenue_factors_halve_at_the_halving() -> None:
    # height 982,500, 6 blocks an hour: the 1,050,000 halving falls in year 2
    f = revenue_factors(982_500, 6.0, 0.0, 1.0, 3)
    assert f[0] == 1.0 and f[2] == pytest.approx(0.5)
    assert 0.5 < f[1] < 1.0
    assert revenue_factors(982_500, 6.0, 0.0, 1.1, 3)[2] == pytest.approx(0.5 * 1.1**2)
    price = np.linspace(100.0, 110.0, 8760)
    diff = np.linspace(1.0, 1.2, 8760)
    assert revenue_growth_per_year(price, diff) == pytest.approx((1.1 / 1.2) ** (8760 / 8759))


def test_first_year_is_the_revenue_of_the_hours_run() -> None:
    # a 270 TH/s, 3,645 W machine running half of each hour of a day, 5 % cooling
    T = 24
    d, s, fee, p = np.full(T, 1.4e14), np.full(T, 3.125), np.full(T, 0.03), np.full(T, 85e3)
    rev, mwh = first_year(270.0, 3645.0, np.full(T, 0.5), d, s, fee, p, 0.02, 0.05)
    assert mwh == pytest.approx(3645 * 1.05 / 1e6 * 0.5 * 8760)
    per_mwh = btc_per_mwh(3645 / 270, d[0], s[0], fee[0], 0.02, 0.05) * p[0]
    assert rev == pytest.approx(per_mwh * mwh, rel=1e-12)
