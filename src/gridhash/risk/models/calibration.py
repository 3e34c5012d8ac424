"""Calibration data with sources: ZNPP's losses of off-site power and market figures.

Every number here is either quoted from a public source (URL in the record)
or marked ASSUMPTION.  ``docs/risk.md`` shows the arithmetic; the tests check
that the constants below are what that arithmetic gives.
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
    "ZNPP_LINES_IN_SERVICE",
    "ZNPP_LINE_RESTORATIONS",
    "ZNPP_LINE_RESTORATIONS_WINDOW",
    "ZNPP_LOOPS",
    "ZNPP_LOOP_WINDOW",
    "LoopRecord",
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
        date(2022, 10, 8),
        24.0,
        "https://www.commondreams.org/news/2022/10/08/zaporizhzhia-nuclear-plant-relying-diesel-generators-after-shelling",
        "≈1 day (sources.md)",
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
        2022,
        None,
        None,
        "docs/sources.md §1.4 (5 LOOPs in 2022)",
        "fifth 2022 event: date and duration not found",
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
    """Complete-LOOP rate: 12 events over the observation window (≈3.02 per year). [1/yr]"""
    return len(ZNPP_LOOPS) / _years(ZNPP_LOOP_WINDOW)


def znpp_loop_duration(max_h: float = LOOP_MAX_DURATION_H) -> LogNormalDuration:
    """Lognormal fitted to the 8 LOOPs with a stated duration (log-moments, ddof=1).

    Median ≈14.3 h, log-sd ≈2.14.  The three events only described as "hours"
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


@functools.lru_cache(maxsize=16)
def znpp_line_cut_model(n_lines: int) -> LineCutModel:
    """ZNPP's wartime record applied to ``n_lines`` lines (a stress calibration).

    Complete LOOPs (all lines) at :func:`znpp_loop_rate_per_year`, single-line
    cuts at :func:`znpp_single_line_rate_per_year` per line, both with the
    :func:`znpp_loop_duration` durations (ASSUMPTION for single lines: the
    330 kV back-up was out from 2025-05-07 for months, so single-line cuts can
    be longer than this).  The model is immutable: one object per line count
    is built and shared.
    """
    d = znpp_loop_duration()
    return LineCutModel.uniform(
        n_lines,
        line_rate_per_year=znpp_single_line_rate_per_year(),
        common_rate_per_year=znpp_loop_rate_per_year(),
        line_duration=d,
        common_duration=d,
    )
