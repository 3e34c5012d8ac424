"""Unit outage chains and line cuts: rates, durations and availability match parameters."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from gridhash.errors import InputError
from gridhash.risk.models import (
    EmpiricalDuration,
    LineCutModel,
    LogNormalDuration,
    UnitOutageModel,
)


def _runs(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Up hours, failures (up→down), down hours, repairs (down→up) over all rows."""
    m = mask.reshape(-1, mask.shape[-1]).astype(np.int8)
    d = np.diff(m, axis=1)
    return int(m.sum()), int((d == -1).sum()), int((1 - m).sum()), int((d == 1).sum())


def test_markov_availability_and_mean_spells() -> None:
    mttf, mttr = 200.0, 50.0
    model = UnitOutageModel.uniform(3, mttf, mttr)
    assert model.availability == pytest.approx(np.full(3, 0.8))
    T, N = 4000, 200
    up = model.sample(N, T, seed=6)
    assert up.shape == (N, 3, T) and up.dtype == bool
    A = 0.8
    rho = 1 - 1 / mttf - 1 / mttr  # lag-1 autocorrelation of the chain
    se = math.sqrt(A * (1 - A) * (1 + rho) / (1 - rho) / T / (N * 3))
    assert abs(up.mean() - A) < 5 * se
    # Stationary from hour 0: the first hour is up with probability A.
    first = up[:, :, 0].mean()
    assert abs(first - A) < 5 * math.sqrt(A * (1 - A) / (N * 3))
    up_h, fails, down_h, repairs = _runs(up)
    assert abs(up_h / fails / mttf - 1) < 5 / math.sqrt(fails)
    assert abs(down_h / repairs / mttr - 1) < 5 / math.sqrt(repairs)


def test_units_with_different_rates() -> None:
    model = UnitOutageModel.from_rates([1 / 100, 1 / 1000], [1 / 10, 1 / 500])
    np.testing.assert_allclose(model.mttf_h, [100, 1000])
    np.testing.assert_allclose(model.availability, [100 / 110, 1000 / 1500])
    up = model.sample(100, 3000, seed=2)
    for u, (a, f, r) in enumerate([(100 / 110, 100, 10), (1000 / 1500, 1000, 500)]):
        rho = 1 - 1 / f - 1 / r
        se = math.sqrt(a * (1 - a) * (1 + rho) / (1 - rho) / 3000 / 100)
        assert abs(up[:, u].mean() - a) < 5 * se


def test_always_available_when_failures_are_rare() -> None:
    up = UnitOutageModel.uniform(2, mttf_h=1e12, mttr_h=1.0).sample(10, 100, seed=0)
    assert up.all()


LOGN = LogNormalDuration(median_h=10.0, log_sd=1.2, max_h=400.0)
EMP = EmpiricalDuration([0.5, 4.5, 24.0, 720.0])


def test_poisson_counts_and_mean_durations() -> None:
    model = LineCutModel.uniform(
        2, line_rate_per_year=6.0, common_rate_per_year=3.0, line_duration=LOGN, common_duration=EMP
    )
    N, T = 400, 8760
    ev = model.sample_events(N, T, seed=3)
    inside = (ev.start_h >= 0) & (ev.start_h < T)
    for line, rate in ((-1, 3.0), (0, 6.0), (1, 6.0)):
        n = np.bincount(ev.path[inside & (ev.line == line)], minlength=N)
        lam = rate * T / 8760
        assert abs(n.mean() - lam) < 5 * math.sqrt(lam / N)
        assert abs(n.var() / lam - 1) < 5 * math.sqrt(2 / N)  # Poisson: variance = mean
    assert np.all(ev.start_h >= -model.warmup_h) and model.warmup_h == 720.0
    d_line = ev.duration_h[ev.line >= 0]
    assert abs(d_line.mean() - LOGN.mean_h) < 5 * d_line.std() / math.sqrt(d_line.size)
    assert d_line.max() <= 400.0
    logs = np.log(d_line)
    # The truncation at 400 h is far in the tail: the log-median is close to log 10.
    assert abs(np.median(logs) - math.log(10.0)) < 5 * 1.2 * 1.25 / math.sqrt(logs.size)
    d_common = ev.duration_h[ev.line < 0]
    assert set(np.unique(d_common)) <= set(EMP.hours)
    assert abs(d_common.mean() - EMP.mean_h) < 5 * EMP.hours.std() / math.sqrt(d_common.size)


def test_truncated_lognormal_mean_formula() -> None:
    rng = np.random.default_rng(0)
    d = LOGN.draw(rng, 400_000)
    assert d.max() <= LOGN.max_h
    assert abs(d.mean() - LOGN.mean_h) < 5 * d.std() / math.sqrt(d.size)
    untruncated = LogNormalDuration(10.0, 1.2, 1e6)
    assert untruncated.mean_h == pytest.approx(10.0 * math.exp(1.2**2 / 2), rel=1e-9)


def test_masks_match_the_events_and_common_events_cut_every_line() -> None:
    model = LineCutModel.uniform(
        3,
        line_rate_per_year=20.0,
        common_rate_per_year=10.0,
        line_duration=LOGN,
        common_duration=EMP,
    )
    N, T = 12, 3000
    ev = model.sample_events(N, T, seed=9)
    mask = model.sample(N, T, seed=9)
    assert mask.shape == (N, 3, T) and mask.dtype == bool
    expected = np.ones((N, 3, T), dtype=bool)
    for p, line, s, d in zip(ev.path, ev.line, ev.start_h, ev.duration_h, strict=True):
        first, last = max(math.floor(s), 0), min(math.ceil(s + d), T)
        if last <= first:  # over before hour 0
            continue
        lines = range(3) if line < 0 else [line]
        for li in lines:
            expected[p, li, first:last] = False
    assert np.array_equal(mask, expected)
    common = ev.line < 0
    assert common.any()


def test_outages_in_progress_at_hour_zero_come_from_the_warm_up() -> None:
    model = LineCutModel.uniform(
        1, line_rate_per_year=50.0, line_duration=LogNormalDuration(100.0, 0.5, 600.0)
    )
    N, T = 3000, 300
    out = ~model.sample(N, T, seed=1)[:, 0, :]
    p0, p_later = out[:, 0].mean(), out[:, 150:].mean()
    se = math.sqrt(p_later * (1 - p_later) / N)
    assert p0 > 0.2  # with no warm-up it would be near zero
    assert abs(p0 - p_later) < 5 * se * math.sqrt(2)


def test_no_events_no_cuts() -> None:
    mask = LineCutModel.uniform(2).sample(3, 50, seed=0)
    assert mask.all()


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: UnitOutageModel.uniform(0), "UnitOutageModel.n_units"),
        (lambda: UnitOutageModel.uniform(2, mttf_h=0.5), "UnitOutageModel.mttf_h"),
        (lambda: UnitOutageModel([100.0, 100.0], [10.0]), "UnitOutageModel.mttr_h"),
        (lambda: UnitOutageModel([100.0, float("nan")], [1.0, 1.0]), "UnitOutageModel.mttf_h[1]"),
        (lambda: UnitOutageModel.from_rates([0.5], [1.5]), "UnitOutageModel.repair_per_h[0]"),
        (lambda: LineCutModel([1.0, -1.0]), "LineCutModel.line_rate_per_year[1]"),
        (lambda: LineCutModel([1.0]), "LineCutModel.line_duration"),
        (lambda: LineCutModel([0.0], common_rate_per_year=1.0), "LineCutModel.common_duration"),
        (
            lambda: LineCutModel([0.0], common_rate_per_year=-1.0),
            "LineCutModel.common_rate_per_year",
        ),
        (lambda: LineCutModel([1.0], line_duration=3.0), "LineCutModel.line_duration"),  # type: ignore[arg-type]
        (lambda: LogNormalDuration(0.0, 1.0, 10.0), "LogNormalDuration.median_h"),
        (lambda: LogNormalDuration(1.0, 0.0, 10.0), "LogNormalDuration.log_sd"),
        (lambda: LogNormalDuration(1.0, 1.0, float("inf")), "LogNormalDuration.max_h"),
        (lambda: EmpiricalDuration([]), "EmpiricalDuration.hours"),
        (lambda: EmpiricalDuration([1.0, 0.0]), "EmpiricalDuration.hours"),
    ],
)
def test_bad_outage_parameters_raise_input_errors(make: Any, field: str) -> None:
    with pytest.raises(InputError) as err:
        make()
    assert err.value.field == field
    assert err.value.expected
