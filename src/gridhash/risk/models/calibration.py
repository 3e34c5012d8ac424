"""Calibration data with sources: ZNPP's losses of off-site power and market figures.

Every number here is either quoted from a public source (URL in the record)
or marked ASSUMPTION.  ``docs/risk.md`` shows the arithmetic; the tests check
that the constants below are what that arithmetic gives.

The off-site power model (:func:`znpp_line_cut_model`) is computed, by
:func:`offsite_record` and :func:`offsite_calibration`, from the event list of
the built-in scenario ``znpp-record`` (the plant's 2025 as the IAEA and the
operators reported it, each event cited in docs/sources.md §1.10): one list
feeds the recorded year, its safety report and the risk models.
:data:`ZNPP_LOOPS` (every complete loss since 2022) is kept as the longer
history the record year is checked against.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from datetime import date

import numpy as np

from gridhash.risk.models.lines import LineCutModel, LogNormalDuration

__all__ = [
    "BTC_VOLATILITY_PER_YEAR",
    "LOOP_MAX_DURATION_H",
    "RECORD_SCENARIO",
    "ZNPP_LINES_IN_SERVICE",
    "ZNPP_LINE_RESTORATIONS",
    "ZNPP_LINE_RESTORATIONS_WINDOW",
    "ZNPP_LOOPS",
    "ZNPP_LOOP_WINDOW",
    "LoopRecord",
    "OffsiteCalibration",
    "OffsiteRecord",
    "offsite_calibration",
    "offsite_record",
    "znpp_line_cut_model",
    "znpp_loop_duration",
    "znpp_loop_rate_per_year",
    "znpp_single_line_rate_per_year",
]

DAYS_PER_YEAR = 365.25

#: Bitcoin's average one-month annualised realised volatility, "about 50" %
#: (Glassnode via CoinDesk, reported 2025-03-18:
#: https://holder.io/news/tuesdays-bitcoin-volatility-2025 ; 40–55 % through the
#: 2023–24 uptrend, Glassnode via Binance Square:
#: https://bbapi.viigoo.eu.org/square/post/10877896131137). [1/sqrt(yr)]
BTC_VOLATILITY_PER_YEAR: float = 0.50


@dataclass(frozen=True)
class LoopRecord:
    """One complete loss of off-site power (LOOP) at ZNPP.

    ``start`` is None where no date was found (``year`` is then from the
    count per year); ``duration_h`` is None where the sources only say
    "hours" or give nothing.
    """

    year: int
    start: date | None
    duration_h: float | None
    source: str
    note: str = ""


#: The 12 complete LOOPs at ZNPP from its occupation (2022-03-04) to 2025-12-13
#: (docs/sources.md §1.4, plus the three sources marked "new" for durations).
ZNPP_LOOPS: tuple[LoopRecord, ...] = (
    LoopRecord(
        2022,
        date(2022, 9, 5),
        132.0,
        "https://babel.ua/en/news/83835-the-last-line-connecting-the-plant-to-the-energy-system-of-ukraine-was-turned-off-at-the-zaporizhzhia-nuclear-power-plant",
        "last line off 2022-09-05, unit 6 in island mode on house load (114-140 MW) until "
        "a line was repaired in the night to 2022-09-11 (Energoatom via LB.ua 2022-09-11: "
        "https://en.lb.ua/news/2022/09/11/16859_energoatom_reports_complete.html); "
        "≈5.5 days from an assumed 12:00 UTC start: no diesel, the plant fed itself",
    ),
    LoopRecord(
        2022,
        date(2022, 10, 8),
        41.0,
        "https://kyivindependent.com/news-feed/iaea-power-restored-to-zaporzhzhia-nuclear-power-plant",
        "cut at 00:59 Kyiv time, the 750 kV line reconnected 'in the evening' of Oct 9 (IAEA); "
        "'almost two days' on diesel (Energoatom via Reuters/Yahoo 2022-10-09); ≈41 h to an "
        "assumed 19:00 Kyiv time (was 24 h, '≈1 day', before the 2026 review)",
    ),
    LoopRecord(
        2022,
        date(2022, 10, 12),
        None,
        "https://www.devdiscourse.com/article/headlines/2211560-external-power-to-zaporizhzhia-nuclear-plant-restored-iaea-chief-says",
        "morning outage, restored the same day: hours",
    ),
    LoopRecord(
        2022,
        date(2022, 11, 2),
        48.0,
        "https://babel.ua/en/news/86525",
        "23:04, ≈2 days (sources.md)",
    ),
    LoopRecord(
        2022,
        date(2022, 11, 23),
        24.0,
        "https://www.tellerreport.com/news/2022-11-24-the-iaea-announced-the-restoration-of-external-power-supply-to-zaporozhye-npp.HyztzONpLi.html",
        "new: IAEA, power restored 'a day after' the cut",
    ),
    LoopRecord(
        2023,
        date(2023, 3, 9),
        11.0,
        "https://www.hstoday.us/subject-matter-areas/infrastructure-security/ukraines-nuclear-power-plants-at-risk-one-day-our-luck-will-run-out/",
        "6th, 11 h",
    ),
    LoopRecord(
        2023,
        date(2023, 5, 22),
        None,
        "https://keyt.com/news/2023/05/22/un-watchdog-ukrainian-nuclear-plant-loses-power-supply-again-is-extremely-vulnerable/",
        "7th, from 05:26, restored 'hours later'",
    ),
    LoopRecord(
        2023,
        date(2023, 12, 2),
        4.5,
        "https://babel.ua/en/news/101295-a-complete-blackout-occurred-at-the-zaporizhzhia-npp-at-night",
        "new: 8th, 02:31 to 07:00",
    ),
    LoopRecord(
        2025,
        date(2025, 7, 4),
        3.5,
        "https://www.chronicle.lu/category/international-news/55705-power-cut-for-a-time-to-ukraines-zaporizhzhia-nuclear-plant-kyiv-blames-russian-strike",
        "new: 9th, Grossi: restored after three and a half hours",
    ),
    LoopRecord(
        2025,
        date(2025, 9, 23),
        720.0,
        "https://kyivindependent.com/repairs-underway-at-zaporizhzhia-nuclear-power-plant-after-four-week-blackout",
        "10th, 2025-09-23 16:56 to 2025-10-23, ≈30 days",
    ),
    LoopRecord(
        2025,
        date(2025, 12, 6),
        0.5,
        "https://www.straitstimes.com/world/europe/ukraines-zaporizhzhia-nuclear-plant-temporarily-lost-power-overnight-iaea-says",
        "11th, ≈0.5 h (IAEA)",
    ),
    LoopRecord(
        2025,
        date(2025, 12, 13),
        None,
        "https://menafn.com/1110476010/Zaporizhzhia-NPP-Ran-On-Generators-During-Overnight-Attack-Ukrenergo",
        "12th, > 1 h",
    ),
)

#: Observation window of :data:`ZNPP_LOOPS`: from the occupation (2022-03-04,
#: Interfax-Ukraine 2022-08-25: https://en.interfax.com.ua/news/general/854493.html)
#: to the latest status in docs/sources.md (IAEA via Sputnik, 2026-02-20), with no
#: 13th event found. [dates]
ZNPP_LOOP_WINDOW: tuple[date, date] = (date(2022, 3, 4), date(2026, 2, 20))

#: "Ukrainian power engineers have restored lines to the plant 42 times since
#: Feb 2022" (Censor 2025-10-23, docs/sources.md §1.4). [count]
ZNPP_LINE_RESTORATIONS: int = 42
#: Window of that count: 2022-02-24 to 2025-10-23. [dates]
ZNPP_LINE_RESTORATIONS_WINDOW: tuple[date, date] = (date(2022, 2, 24), date(2025, 10, 23))
#: ASSUMPTION: lines in service to share those cuts between (4 × 750 kV plus
#: 330 kV lines in 2022, one or two since 2023; docs/sources.md §1.3). [lines]
ZNPP_LINES_IN_SERVICE: float = 2.0
#: ASSUMPTION: longest outage, three times the longest observed (30 days). [h]
LOOP_MAX_DURATION_H: float = 2160.0


def _years(window: tuple[date, date]) -> float:
    return (window[1] - window[0]).days / DAYS_PER_YEAR


def znpp_loop_rate_per_year() -> float:
    """Complete-LOOP rate: 12 events over the observation window (≈3.02 per year). [1/yr]

    History only (2022 to Feb 2026); the line-cut model is calibrated from the
    recorded year (:func:`offsite_calibration`).
    """
    return len(ZNPP_LOOPS) / _years(ZNPP_LOOP_WINDOW)


def znpp_loop_duration(max_h: float = LOOP_MAX_DURATION_H) -> LogNormalDuration:
    """Lognormal fitted to the 9 LOOPs with a stated duration (log-moments, ddof=1).

    Median ≈19.9 h, log-sd ≈2.14.  The three events only described as "hours"
    (same-day restorations) are left out; they would lower the median, so the
    fit errs towards longer outages.
    """
    logs = np.log([r.duration_h for r in ZNPP_LOOPS if r.duration_h is not None])
    return LogNormalDuration(
        median_h=math.exp(float(logs.mean())), log_sd=float(logs.std(ddof=1)), max_h=max_h
    )


def znpp_single_line_rate_per_year() -> float:
    """Single-line cut rate per line.

    ``(42 restorations − 10 LOOPs before 2025-10-23) / 3.66 yr / 2 lines`` ≈ 4.4
    per line-year: each LOOP needs at least one restoration, the rest are
    assumed to end single-line cuts, shared over :data:`ZNPP_LINES_IN_SERVICE`
    lines (ASSUMPTION). [1/yr]
    """
    end = ZNPP_LINE_RESTORATIONS_WINDOW[1]
    loops_before = sum(1 for r in ZNPP_LOOPS if (r.start or date(r.year, 1, 1)) <= end)
    single = ZNPP_LINE_RESTORATIONS - loops_before
    return single / _years(ZNPP_LINE_RESTORATIONS_WINDOW) / ZNPP_LINES_IN_SERVICE


# --------------------------------------------------------------------------- #
# The recorded year: calibration computed from the znpp-record event list
# --------------------------------------------------------------------------- #

#: The built-in scenario whose events are the record. [-]
RECORD_SCENARIO = "znpp-record"
#: ASSUMPTION: longest single-line outage, three times the longest recorded
#: one (Ferosplavna-1, 2025-05-07 to 2025-11-08, 4,452 h). [h]
SINGLE_LINE_MAX_FACTOR: float = 3.0


@dataclass(frozen=True, eq=False)
class OffsiteRecord:
    """Off-site circuits in service hour by hour, from a scenario's events.

    Attributes
    ----------
    lines : tuple of str
        The off-site circuits (``safety.offsite.lines``). [-]
    in_service : numpy.ndarray of bool, shape (L, T)
        True where the circuit is in service. [-]
    """

    lines: tuple[str, ...]
    in_service: np.ndarray

    @property
    def hours(self) -> int:
        """Hours T of the record. [h]"""
        return int(self.in_service.shape[1])

    @property
    def count(self) -> np.ndarray:
        """Circuits in service each hour. (T,) [-]"""
        return self.in_service.sum(axis=0)

    def runs(self, mask: np.ndarray) -> list[tuple[int, int]]:
        """Maximal runs ``(start, end)`` of True hours in ``mask`` (end exclusive). [h]"""
        m = np.concatenate(([False], np.asarray(mask, dtype=bool), [False]))
        edges = np.flatnonzero(np.diff(m.astype(np.int8)))
        return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


@dataclass(frozen=True)
class OffsiteCalibration:
    """Rates and durations of the line-cut model, computed from an :class:`OffsiteRecord`.

    A cut that leaves at least one other circuit in service is a *single-line
    cut*; one that takes out the last circuit in service starts a *complete
    loss* (every recorded complete loss of 2025 was of that kind: one line was
    already out).  The model's common-mode events stand for the complete
    losses, its single-line events for the others.

    Attributes
    ----------
    years : float
        Length of the record. [yr]
    line_years_in_service : float
        Sum over circuits of the time each was in service. [yr]
    single_line_cuts_h : tuple of float
        Length of each single-line cut (whole hours touched). [h]
    complete_losses_h : tuple of float
        Length of each complete loss (hours with no circuit). [h]
    hours_by_lines : dict of int to int
        Hours with 0, 1, 2, … circuits in service. [h]
    """

    years: float
    line_years_in_service: float
    single_line_cuts_h: tuple[float, ...]
    complete_losses_h: tuple[float, ...]
    hours_by_lines: dict[int, int]

    @property
    def line_rate_per_year(self) -> float:
        """Single-line cuts per circuit-year in service. [1/yr]"""
        return len(self.single_line_cuts_h) / self.line_years_in_service

    @property
    def common_rate_per_year(self) -> float:
        """Complete losses of off-site power per year. [1/yr]"""
        return len(self.complete_losses_h) / self.years

    @property
    def share_on_one_line(self) -> float:
        """Fraction of hours with exactly one circuit in service. [-]"""
        return self.hours_by_lines.get(1, 0) / sum(self.hours_by_lines.values())

    @property
    def mean_single_repair_h(self) -> float:
        """Mean length of a single-line cut. [h]"""
        return float(np.mean(self.single_line_cuts_h))

    @property
    def mean_complete_loss_h(self) -> float:
        """Mean length of a complete loss. [h]"""
        return float(np.mean(self.complete_losses_h))


@functools.lru_cache(maxsize=4)
def offsite_record(scenario: str = RECORD_SCENARIO) -> OffsiteRecord:
    """The off-site circuits of a built-in scenario, hour by hour, from its events.

    Parameters
    ----------
    scenario : str, default "znpp-record"
        A built-in scenario (or a path) with a ``safety`` part. [-]
    """
    from gridhash.safety.state import resolve_state
    from gridhash.scenario.load import load_scenario
    from gridhash.scenario.resolve import resolve

    loaded = load_scenario(scenario)
    state = resolve_state(loaded, resolve(loaded))
    names = tuple(line.name for line, off
                  in zip(loaded.scenario.grid.lines, state.offsite, strict=True) if off)
    return OffsiteRecord(lines=names, in_service=state.line_in_service[state.offsite].copy())


def offsite_calibration(record: OffsiteRecord | None = None) -> OffsiteCalibration:
    """Line-loss and complete-loss rates, repair times and time on one line of a record.

    Parameters
    ----------
    record : OffsiteRecord, optional
        Default: :func:`offsite_record` of ``znpp-record`` (ZNPP's 2025).
    """
    rec = record if record is not None else offsite_record()
    n = rec.count
    single: list[float] = []
    for line in range(rec.in_service.shape[0]):
        for a, b in rec.runs(~rec.in_service[line]):
            others = n[a] if a == 0 else n[a - 1] - 1  # circuits left when it went
            if others >= 1:
                single.append(float(b - a))
    complete = [float(b - a) for a, b in rec.runs(n == 0)]
    counts = np.bincount(n, minlength=rec.in_service.shape[0] + 1)
    return OffsiteCalibration(
        years=rec.hours / (24 * DAYS_PER_YEAR),
        line_years_in_service=float(rec.in_service.sum()) / (24 * DAYS_PER_YEAR),
        single_line_cuts_h=tuple(single),
        complete_losses_h=tuple(complete),
        hours_by_lines={k: int(c) for k, c in enumerate(counts)},
    )


def _lognormal(hours: tuple[float, ...], max_h: float) -> LogNormalDuration:
    logs = np.log(np.asarray(hours, dtype=float))
    sd = float(logs.std(ddof=1)) if logs.size > 1 else 1.0
    return LogNormalDuration(median_h=math.exp(float(logs.mean())), log_sd=max(sd, 1e-3),
                             max_h=max_h)


@functools.lru_cache(maxsize=16)
def znpp_line_cut_model(n_lines: int) -> LineCutModel:
    """ZNPP's recorded year applied to ``n_lines`` lines (a stress calibration).

    From :func:`offsite_calibration` of ``znpp-record``: complete losses (all
    lines) at its ``common_rate_per_year`` with lognormal durations fitted to
    the recorded complete losses (log-moments, ddof=1, truncated at
    :data:`LOOP_MAX_DURATION_H`); single-line cuts at its
    ``line_rate_per_year`` on each line, lognormal fitted to the recorded
    single-line cuts, truncated at :data:`SINGLE_LINE_MAX_FACTOR` × the longest.
    The model is immutable: one object per line count is built and shared.
    """
    cal = offsite_calibration()
    return LineCutModel.uniform(
        n_lines,
        line_rate_per_year=cal.line_rate_per_year,
        common_rate_per_year=cal.common_rate_per_year,
        line_duration=_lognormal(cal.single_line_cuts_h,
                                 SINGLE_LINE_MAX_FACTOR * max(cal.single_line_cuts_h)),
        common_duration=_lognormal(cal.complete_losses_h, LOOP_MAX_DURATION_H),
    )
