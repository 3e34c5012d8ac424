"""Demand-response curtailment rules: one implementation for the planner, the risk sweep
and the site agent.

A site enrolled in a demand-response programme stops mining

- when the price has been **above the strike** for ``hours_above`` consecutive
  hours (the ``hours_above``-th such hour is the first curtailed), or at once
  in an hour at or above the **high strike**, or while the grid operator
  **calls** for it (a window in the scenario, a signal in the field);
- and mines again once the price has been **below the resume level** (the
  strike unless given) for ``hours_below`` consecutive hours *and* it has been
  curtailed for at least ``min_hold_hours`` (a high-strike hour keeps it
  curtailed regardless).  A call curtails for its hours whatever the price; the
  price rule runs on underneath, so when the call ends the rule decides.

Each curtailed hour carries a code that says why (:data:`REASONS`): the price
is above the strike (the curtailment began, or goes on, with the price above
it), at or above the high strike, the minimum hold is not over, the price has
not yet stayed below the resume level long enough, or the grid operator calls.

:meth:`RuleState.step` is the rule, one hour at a time: the specification, and
what an agent that sees prices one by one runs.  :func:`curtailment` is the
same rule over whole price series, vectorised over any number of series (the
planner's one series, the risk sweep's sampled paths, the agent's last days of
prices): it finds each curtailment's first and last hour with array searches,
so its cost grows with the number of curtailments, not of hours.  A test
(tests/test_demand_response.py) holds it equal to stepping :meth:`RuleState.step`
hour by hour, series by series.  An unknown price (NaN) changes nothing: the
runs of hours above and below pause.

Programme revenue (:func:`dr_revenue`): a payment per MW made available per
hour enrolled, and a payment per MWh curtailed while called.  Analytics in
float64 USD; settlement converts with its own rounding rule.
:func:`site_programmes` applies every site's programme to its capacity for a
batch of price paths: the one function the scenario's resolution and the risk
sweep call.

This module imports nothing from gridhash: it sits below the scenario.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

#: Why an hour is curtailed (:func:`curtailment`'s codes; 0: mining allowed).
MINING, ABOVE_STRIKE, HIGH_STRIKE, HELD, CALLED, WAITING = 0, 1, 2, 3, 4, 5
REASONS = {
    MINING: "mining",
    ABOVE_STRIKE: "price above the strike",
    HIGH_STRIKE: "price at or above the high strike",
    HELD: "minimum hold",
    CALLED: "called by the grid operator",
    WAITING: "price not yet below the resume level long enough",
}


@dataclass(frozen=True)
class CurtailmentRule:
    """A site's price rule (prices in USD/MWh, durations in hours).

    Attributes
    ----------
    strike : curtail after ``hours_above`` consecutive hours with the price above it [USD/MWh]
    hours_above : N, consecutive hours above the strike that start a curtailment [h]
    hours_below : M, consecutive hours below ``resume`` before mining resumes [h]
    min_hold_hours : a curtailment lasts at least this long [h]
    high_strike : curtail at once in an hour at or above it; ``None``: no high strike [USD/MWh]
    resume : the level the price must stay below to resume; ``None``: the strike [USD/MWh]
    """

    strike: float
    hours_above: int = 1
    hours_below: int = 1
    min_hold_hours: int = 0
    high_strike: float | None = None
    resume: float | None = None

    def __post_init__(self) -> None:
        if self.hours_above < 1 or self.hours_below < 1 or self.min_hold_hours < 0:
            raise ValueError("hours_above and hours_below must be >= 1, min_hold_hours >= 0")
        if self.resume is not None and self.resume > self.strike:
            raise ValueError(f"resume level {self.resume} is above the strike {self.strike}")
        if self.high_strike is not None and self.high_strike < self.strike:
            raise ValueError(f"high strike {self.high_strike} is below the strike {self.strike}")

    @property
    def resume_level(self) -> float:
        return self.strike if self.resume is None else self.resume

    def describe(self, code: int, run_hours: int | None = None) -> str:
        """What a curtailed hour's ``code`` means under this rule, with its levels.

        ``run_hours``: for :data:`ABOVE_STRIKE`, the consecutive hours the price has
        been above the strike up to that hour (default: the rule's ``hours_above``).
        """
        if code == ABOVE_STRIKE:
            n = self.hours_above if run_hours is None else run_hours
            return (f"price above the strike ({self.strike:g} USD/MWh) for {n} h "
                    f"(curtails after {self.hours_above} h)")
        if code == HIGH_STRIKE:
            return f"price at or above the high strike ({self.high_strike:g} USD/MWh)"
        if code == HELD:
            return f"minimum hold ({self.min_hold_hours} h)"
        if code == WAITING:
            return (f"price not yet below {self.resume_level:g} USD/MWh for "
                    f"{self.hours_below} h")
        return REASONS[code]


@dataclass(frozen=True)
class RuleState:
    """Where a site stands under its rule after the hours seen so far."""

    curtailed: bool = False
    run_above: int = 0   # consecutive hours above the strike, up to the last one seen
    run_below: int = 0   # consecutive hours below the resume level
    held: int = 0        # hours curtailed so far in the current curtailment

    def step(self, rule: CurtailmentRule, price: float,
             called: bool = False) -> tuple[RuleState, int]:
        """The state after one more hour at ``price`` [USD/MWh], and that hour's code."""
        if math.isnan(price):
            above = below = False
            run_above, run_below = self.run_above, self.run_below
        else:
            above, below = price > rule.strike, price < rule.resume_level
            run_above = self.run_above + 1 if above else 0
            run_below = self.run_below + 1 if below else 0
        high = rule.high_strike is not None and not math.isnan(price) and (
            price >= rule.high_strike)
        if high:
            code = HIGH_STRIKE
        elif not self.curtailed:
            code = ABOVE_STRIKE if run_above >= rule.hours_above else MINING
        elif run_below >= rule.hours_below and self.held >= rule.min_hold_hours:
            code = MINING
        elif above:
            code = ABOVE_STRIKE
        elif self.held < rule.min_hold_hours:
            code = HELD
        else:
            code = WAITING
        curtailed = code != MINING
        held = (self.held + 1 if self.curtailed else 1) if curtailed else 0
        state = replace(self, curtailed=curtailed, run_above=run_above, run_below=run_below,
                        held=held)
        # a call curtails whatever the price says; the price rule runs on underneath it
        return state, CALLED if called else code


def _runs(inc: np.ndarray, reset: np.ndarray, start: int) -> np.ndarray:
    """(N, T) consecutive hours of ``inc`` up to each hour: +1 where ``inc``, back to 0
    where ``reset``, unchanged otherwise; ``start`` before the first hour."""
    T = inc.shape[-1]
    cum = np.cumsum(inc, axis=-1, dtype=np.int64)
    last = np.maximum.accumulate(np.where(reset, np.arange(T), -1), axis=-1)
    at_reset = np.take_along_axis(cum, np.maximum(last, 0), axis=-1)
    return np.where(last >= 0, cum - at_reset, start + cum)


def _next_true(mask: np.ndarray) -> np.ndarray:
    """(N, T + 1): the first hour ≥ t where ``mask`` holds (T where none; column T: T)."""
    N, T = mask.shape
    at = np.where(mask, np.arange(T), T)
    out = np.empty((N, T + 1), dtype=np.int64)
    out[:, T] = T
    out[:, :T] = np.minimum.accumulate(at[:, ::-1], axis=-1)[:, ::-1]
    return out


def _kernel(prices: np.ndarray, rule: CurtailmentRule, s0: RuleState
            ) -> tuple[np.ndarray, list[RuleState]]:
    """Codes (N, T) of the price rule (no calls) and each series' state after it."""
    N, T = prices.shape
    if T == 0:
        return np.zeros((N, 0), dtype=np.int8), [s0] * N
    known = ~np.isnan(prices)
    above = prices > rule.strike
    below = prices < rule.resume_level
    high = (prices >= rule.high_strike if rule.high_strike is not None
            else np.zeros_like(above))
    run_above = _runs(above, known & ~above, s0.run_above)
    run_below = _runs(below, known & ~below, s0.run_below)
    begins = _next_true(high | (run_above >= rule.hours_above))
    ends = _next_true(~high & (run_below >= rule.hours_below))
    # Curtailments: each begins at the first hour its condition holds after the last
    # one ended, and ends at the first hour ≥ start + max(hold, 1) where the price
    # lets it (an initial curtailment began ``held`` hours before the first hour).
    least = max(rule.min_hold_hours, 1)
    rows = np.arange(N)
    edges = np.zeros((N, T + 1), dtype=np.int32)
    first = np.zeros((N, T), dtype=bool)
    start = np.full(N, -s0.held) if s0.curtailed else begins[:, 0].copy()
    live = rows[start < T]
    start = start[live]
    while live.size:
        end = ends[live, np.clip(start + least, 0, T)]
        edges[live, np.maximum(start, 0)] += 1
        edges[live, end] -= 1
        began = start >= 0
        first[live[began], start[began]] = True
        start = begins[live, np.minimum(end + 1, T)]
        keep = start < T
        live, start = live[keep], start[keep]
    curtailed = np.cumsum(edges[:, :T], axis=-1) > 0
    since = np.where(first, np.arange(T), -(1 << 40))
    if s0.curtailed:
        since[:, 0] = np.maximum(since[:, 0], -s0.held)
    since = np.maximum.accumulate(since, axis=-1)  # each hour's curtailment began here
    held_before = np.arange(T) - since
    codes = np.select(
        [~curtailed, high, first | above, held_before < rule.min_hold_hours],
        [MINING, HIGH_STRIKE, ABOVE_STRIKE, HELD], WAITING).astype(np.int8)
    states = [RuleState(curtailed=bool(curtailed[n, -1]), run_above=int(run_above[n, -1]),
                        run_below=int(run_below[n, -1]),
                        held=int(T - since[n, -1]) if curtailed[n, -1] else 0)
              for n in range(N)]
    return codes, states


def curtailment(prices: np.ndarray, rule: CurtailmentRule | None,
                called: np.ndarray | None = None,
                state: RuleState | None = None) -> tuple[np.ndarray, RuleState]:
    """Each hour's code under ``rule`` (0: mining allowed), and the state after the last hour.

    Parameters
    ----------
    prices : (T,) or (N, T) the reference price of each hour, of one series or of N
        (the risk sweep's paths) [USD/MWh]
    rule : the site's rule; ``None``: only calls curtail
    called : (T,) or (N, T) bool, hours the grid operator calls; default none
    state : the state before the first hour (default: mining, no runs), the same for
        every series

    Returns
    -------
    codes : (T,) or (N, T) int8, :data:`REASONS` keys: for each series, exactly what
        :meth:`RuleState.step` gives hour by hour on that series alone
    state : the state after the last hour (of the last series where there are N)
    """
    prices = np.asarray(prices, dtype=float)
    one = prices.ndim == 1
    p2 = prices.reshape(math.prod(prices.shape[:-1]), prices.shape[-1])
    s0 = state or RuleState()
    if rule is None:
        codes, states = np.zeros(p2.shape, dtype=np.int8), [s0]
    else:
        codes, states = _kernel(p2, rule, s0)
    if called is not None:
        codes[np.broadcast_to(np.asarray(called, dtype=bool), prices.shape)
              .reshape(p2.shape)] = CALLED
    return (codes[0] if one else codes.reshape(prices.shape)), states[-1]


def above_strike_hours(prices: np.ndarray, rule: CurtailmentRule) -> np.ndarray:
    """(T,) consecutive hours the price has been above the strike up to each hour (an
    unknown price pauses the run): the N of "price above the strike for N h". [h]"""
    p = np.asarray(prices, dtype=float).reshape(1, -1)
    above = p > rule.strike
    return _runs(above, ~np.isnan(p) & ~above, 0)[0]


#: Short names of the codes, for JSON.
CODE_NAMES = {MINING: "mining", ABOVE_STRIKE: "above_strike", HIGH_STRIKE: "high_strike",
              HELD: "min_hold", CALLED: "called", WAITING: "waiting_below_resume"}


def explain(codes: np.ndarray, prices: np.ndarray, rule: CurtailmentRule | None
            ) -> list[dict[str, object] | None]:
    """Why each hour of one series is curtailed: None where mining is allowed, else
    ``{"code", "reason", "detail"}`` (the code's short name, :data:`REASONS`' text and
    :meth:`CurtailmentRule.describe` with the hour's run above the strike).

    Parameters
    ----------
    codes : (T,) :func:`curtailment`'s codes of the series
    prices : (T,) the reference prices the rule read [USD/MWh]
    rule : the rule (``None``: only calls curtail)
    """
    codes = np.asarray(codes)
    out: list[dict[str, object] | None] = [None] * len(codes)
    runs = above_strike_hours(prices, rule) if rule is not None else None
    for t in np.flatnonzero(codes):
        c = int(codes[t])
        detail = (rule.describe(c, int(runs[t])) if rule is not None and runs is not None
                  else REASONS[c])
        out[t] = {"code": CODE_NAMES[c], "reason": REASONS[c], "detail": detail}
    return out


def dr_revenue(enrolled_mw: np.ndarray, codes: np.ndarray,
               availability_usd_per_mw_h: float,
               curtailed_usd_per_mwh: float) -> tuple[np.ndarray, np.ndarray]:
    """Demand-response programme revenue per hour [USD]: (availability, energy on call).

    Parameters
    ----------
    enrolled_mw : (..., T) MW the site makes available to the grid operator each hour
        (0 when the site is out) [MW]
    codes : (..., T) :func:`curtailment`'s codes
    availability_usd_per_mw_h : payment per MW made available, per hour [USD/MW/h]
    curtailed_usd_per_mwh : payment per MWh curtailed while called [USD/MWh]

    Returns
    -------
    availability : (..., T) [USD]
    energy : (..., T) the enrolled MW of called hours times the payment [USD]
    """
    enrolled = np.asarray(enrolled_mw, dtype=float)
    availability = enrolled * availability_usd_per_mw_h
    energy = np.where(np.asarray(codes) == CALLED, enrolled, 0.0) * curtailed_usd_per_mwh
    return availability, energy


@dataclass(frozen=True)
class Programme:
    """One site's demand-response programme, resolved from the scenario.

    Attributes
    ----------
    rule : the price rule; ``None``: only the grid operator's calls curtail
    price_offtake : index of the offtake whose price is the reference price
    enrolled_mw : MW made available to the grid operator (never more than the site
        has); ``None``: the site's capacity [MW]
    availability_usd_per_mw_h : payment per MW made available, per hour [USD/MW/h]
    curtailed_usd_per_mwh : payment per MWh curtailed while called [USD/MWh]
    """

    rule: CurtailmentRule | None
    price_offtake: int
    enrolled_mw: float | None = None
    availability_usd_per_mw_h: float = 0.0
    curtailed_usd_per_mwh: float = 0.0


@dataclass(frozen=True, eq=False)
class SiteCurtailment:
    """Every site's programme over a batch of price paths (leading axes of the prices).

    Attributes
    ----------
    codes : (..., S, T) int8 :data:`REASONS` keys (0 at sites without a programme)
    site_capacity_mw : (..., S, T) each site's capacity, 0 where its rule curtails [MW]
    availability_usd : (..., S, T) payment for the capacity held available [USD]
    energy_usd : (..., S, T) payment for the energy curtailed on call [USD]
    """

    codes: np.ndarray
    site_capacity_mw: np.ndarray
    availability_usd: np.ndarray
    energy_usd: np.ndarray


def site_programmes(programmes: Sequence[Programme | None], offtake_prices: np.ndarray,
                    called: np.ndarray, site_capacity_mw: np.ndarray) -> SiteCurtailment:
    """Every site's demand-response codes, capacity and payments under given prices.

    Parameters
    ----------
    programmes : (S,) each site's programme, ``None`` where it has none
    offtake_prices : (..., O, T) each offtake's price, with any leading path axes [USD/MWh]
    called : (S, T) bool, the hours the grid operator calls each site
    site_capacity_mw : (S, T) each site's capacity before its programme (0 in outages) [MW]

    Returns
    -------
    SiteCurtailment
        With the prices' leading axes.  Path by path it equals this function run on
        that path's prices alone (the rule runs on each series separately).
    """
    prices = np.asarray(offtake_prices, dtype=float)
    lead = prices.shape[:-2]
    cap = np.asarray(site_capacity_mw, dtype=float)
    S, T = cap.shape
    codes = np.zeros((*lead, S, T), dtype=np.int8)
    avail = np.zeros((*lead, S, T))
    energy = np.zeros((*lead, S, T))
    for s, prog in enumerate(programmes):
        if prog is None:
            continue
        codes[..., s, :], _ = curtailment(prices[..., prog.price_offtake, :], prog.rule,
                                          np.broadcast_to(called[s], (*lead, T)))
        enrolled = cap[s] if prog.enrolled_mw is None else np.minimum(cap[s], prog.enrolled_mw)
        avail[..., s, :], energy[..., s, :] = dr_revenue(
            np.broadcast_to(enrolled, (*lead, T)), codes[..., s, :],
            prog.availability_usd_per_mw_h, prog.curtailed_usd_per_mwh)
    out_cap = np.where(codes != 0, 0.0, cap)
    return SiteCurtailment(codes=codes, site_capacity_mw=out_cap, availability_usd=avail,
                           energy_usd=energy)
