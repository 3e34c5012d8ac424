"""Demand-response curtailment rules: one implementation for the planner and the site agent.

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

:meth:`RuleState.step` is the rule, one hour at a time: the agent calls it
with each hour's price as it becomes known, the planner
(:func:`curtailment`) calls the same method over the scenario's price series,
so both curtail in exactly the same hours for the same prices.  An unknown
price (NaN) changes nothing: the runs of hours above and below pause.

Programme revenue (:func:`dr_revenue`): a payment per MW made available per
hour enrolled, and a payment per MWh curtailed while called.  Analytics in
float64 USD; settlement converts with its own rounding rule.

This module imports nothing from gridhash: it sits below the scenario.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

#: Why an hour is curtailed (``curtailment``'s codes; 0: mining allowed).
MINING, ABOVE_STRIKE, HIGH_STRIKE, HELD, CALLED = 0, 1, 2, 3, 4
REASONS = {
    MINING: "mining",
    ABOVE_STRIKE: "price above the strike long enough",
    HIGH_STRIKE: "price at or above the high strike",
    HELD: "curtailed: minimum hold or not yet below the resume level long enough",
    CALLED: "called by the grid operator",
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
        else:
            code = HELD
        curtailed = code != MINING
        held = (self.held + 1 if self.curtailed else 1) if curtailed else 0
        state = replace(self, curtailed=curtailed, run_above=run_above, run_below=run_below,
                        held=held)
        # a call curtails whatever the price says; the price rule runs on underneath it
        return state, CALLED if called else code


def curtailment(prices: np.ndarray, rule: CurtailmentRule | None,
                called: np.ndarray | None = None,
                state: RuleState | None = None) -> tuple[np.ndarray, RuleState]:
    """Each hour's code under ``rule`` (0: mining allowed), and the state after the last hour.

    Parameters
    ----------
    prices : (T,) the reference price of each hour [USD/MWh]
    rule : the site's rule; ``None``: only calls curtail
    called : (T,) bool, hours the grid operator calls; default none
    state : the state before the first hour (default: mining, no runs)

    Returns
    -------
    codes : (T,) int8, :data:`REASONS` keys
    state : the state after the last hour
    """
    prices = np.asarray(prices, dtype=float)
    T = prices.shape[0]
    calls = np.zeros(T, dtype=bool) if called is None else np.asarray(called, dtype=bool)
    codes = np.zeros(T, dtype=np.int8)
    if rule is None:
        codes[calls] = CALLED
        return codes, state or RuleState()
    s = state or RuleState()
    # The rule is sequential (hysteresis, hold): one step per hour, the very method the
    # agent runs live.  O(T) and run once per scenario, not in the dispatch's inner loop.
    for t in range(T):
        s, codes[t] = s.step(rule, float(prices[t]), bool(calls[t]))
    return codes, s


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
