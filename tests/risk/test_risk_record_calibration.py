"""The off-site power calibration is the znpp-record event list, counted by code.

The hand count below is the record of 2025 as docs/sources.md §1.10 lists it
(R1..R17), in whole hours touched:

* Ferosplavna-1 out 2025-05-07 00:00 → 2025-11-08 12:00 (4,452 h) while
  Dniprovska was in service: a single-line cut;
* Dniprovska cut 2025-07-04 14:36 UTC for 3.5 h (hours 14-18, 5 h) while
  Ferosplavna-1 was out: the 9th complete loss;
* Dniprovska cut 2025-09-23 13:56 UTC → 2025-10-23 (719 h): the 10th;
* Dniprovska out 2025-11-14 14:18 UTC → 2025-12-30 12:00 (1,102 h) with
  Ferosplavna-1 back since 2025-11-08: a single-line cut;
* Ferosplavna-1 lost for ~0.5 h on 2025-12-06 (1 h) and > 1 h on 2025-12-13
  (2 h) while Dniprovska was out: the 11th and 12th complete losses.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gridhash.risk.models.calibration import (
    LOOP_MAX_DURATION_H,
    ZNPP_LOOPS,
    OffsiteRecord,
    offsite_calibration,
    offsite_record,
    znpp_line_cut_model,
)

HOURS = 8760
YEAR = 24 * 365.25


def test_record_lines_and_hours() -> None:
    rec = offsite_record()
    assert rec.lines == ("Dniprovska-750", "Ferosplavna-1-330")
    assert rec.hours == HOURS
    dn, fe = rec.in_service
    assert int((~dn).sum()) == 5 + 719 + 1102
    assert int((~fe).sum()) == 4452 + 1 + 2


def test_calibration_is_the_hand_count() -> None:
    cal = offsite_calibration()
    assert sorted(cal.single_line_cuts_h) == [1102.0, 4452.0]
    assert list(cal.complete_losses_h) == [5.0, 719.0, 1.0, 2.0]
    zero = 5 + 719 + 1 + 2
    # Ferosplavna-1 out but not Dniprovska, then Dniprovska out but not Ferosplavna-1:
    one = (4452 - 5 - 719) + (1102 - 1 - 2)
    assert cal.hours_by_lines == {0: zero, 1: one, 2: HOURS - zero - one}
    assert cal.hours_by_lines == {0: 727, 1: 4827, 2: 3206}
    in_service = (HOURS - 5 - 719 - 1102) + (HOURS - 4452 - 3)
    assert cal.line_years_in_service == pytest.approx(in_service / YEAR)
    assert cal.line_rate_per_year == pytest.approx(2 / (in_service / YEAR))
    assert cal.common_rate_per_year == pytest.approx(4 / (HOURS / YEAR))
    assert cal.share_on_one_line == pytest.approx(4827 / HOURS)
    assert cal.mean_single_repair_h == pytest.approx((4452 + 1102) / 2)
    assert cal.mean_complete_loss_h == pytest.approx((5 + 719 + 1 + 2) / 4)


def test_record_year_agrees_with_the_history() -> None:
    """The four complete losses of 2025 are the history's four, to the whole hour."""
    cal = offsite_calibration()
    hist = sorted(r.duration_h for r in ZNPP_LOOPS if r.year == 2025 and r.duration_h)
    assert sum(r.year == 2025 for r in ZNPP_LOOPS) == len(cal.complete_losses_h)
    # The history's 0.5 / 3.5 / 720 h are 1 / 5 / 719 hours touched in the hourly record.
    assert sorted(cal.complete_losses_h)[:1] == [math.ceil(hist[0])]
    assert 720.0 in hist and 719.0 in cal.complete_losses_h


def test_line_cut_model_uses_the_record() -> None:
    cal = offsite_calibration()
    m = znpp_line_cut_model(2)
    np.testing.assert_allclose(m.line_rate_per_year, cal.line_rate_per_year)
    assert m.common_rate_per_year == cal.common_rate_per_year
    logs = np.log(cal.complete_losses_h)
    assert m.common_duration.median_h == pytest.approx(math.exp(logs.mean()))
    assert m.common_duration.log_sd == pytest.approx(logs.std(ddof=1))
    assert m.common_duration.max_h == LOOP_MAX_DURATION_H
    single = np.log(cal.single_line_cuts_h)
    assert m.line_duration.median_h == pytest.approx(math.exp(single.mean()))
    assert m.line_duration.max_h == 3 * 4452


def test_calibration_of_a_made_up_record() -> None:
    """Two lines over 100 h: line 0 out 10-20 (single), line 1 out 15-30: 15-20 has none."""
    s = np.ones((2, 100), dtype=bool)
    s[0, 10:20] = False
    s[1, 15:30] = False
    cal = offsite_calibration(OffsiteRecord(("a", "b"), s))
    assert cal.single_line_cuts_h == (10.0,)
    assert cal.complete_losses_h == (5.0,)
    assert cal.hours_by_lines == {0: 5, 1: 15, 2: 80}


@settings(max_examples=60, deadline=None)
@given(arrays(bool, st.tuples(st.integers(1, 3), st.integers(1, 200))))
def test_calibration_accounts_for_every_hour(mask: np.ndarray) -> None:
    rec = OffsiteRecord(tuple(f"l{i}" for i in range(mask.shape[0])), mask)
    cal = offsite_calibration(rec)
    T = mask.shape[1]
    assert sum(cal.hours_by_lines.values()) == T
    assert sum(cal.complete_losses_h) == cal.hours_by_lines[0] == int((~mask).all(axis=0).sum())
    assert cal.line_years_in_service * 24 * 365.25 == pytest.approx(float(mask.sum()))
    # every out-of-service run of a line is either a single-line cut or a part of a
    # complete loss: single cuts never exceed the runs of each line
    runs = sum(len(rec.runs(~mask[i])) for i in range(mask.shape[0]))
    assert len(cal.single_line_cuts_h) <= runs
    assert all(h >= 1 for h in cal.single_line_cuts_h + cal.complete_losses_h)
