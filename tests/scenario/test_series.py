"""Static-or-series fields: every form resolves to one value per hour."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gridhash.errors import ScenarioError
from gridhash.scenario.models import FileSeries, GrowthSeries, ProfileSeries, Window
from gridhash.scenario.series import hourly_index, resolve_series, window_mask

INDEX = hourly_index(pd.Timestamp("2027-01-01", tz="UTC"), 48)


def test_constant_and_inline() -> None:
    np.testing.assert_array_equal(resolve_series(3.5, INDEX, field="f"), np.full(48, 3.5))
    values = list(range(48))
    np.testing.assert_array_equal(resolve_series(values, INDEX, field="f"), values)


def test_csv_by_position_and_by_time(tmp_path: Path) -> None:
    pd.DataFrame({"v": np.arange(48.0)}).to_csv(tmp_path / "a.csv", index=False)
    got = resolve_series(FileSeries(file="a.csv"), INDEX, field="f", base_dir=tmp_path)
    np.testing.assert_array_equal(got, np.arange(48.0))
    # rows out of order with a time column are aligned on the hours; scale applies
    frame = pd.DataFrame({"time": INDEX, "x": np.arange(48.0), "y": 1.0}).iloc[::-1]
    frame.to_csv(tmp_path / "b.csv", index=False)
    spec = FileSeries(file="b.csv", column="x", scale=2.0)
    got = resolve_series(spec, INDEX, field="f", base_dir=tmp_path)
    np.testing.assert_array_equal(got, 2 * np.arange(48.0))


def test_parquet(tmp_path: Path) -> None:
    pd.DataFrame({"timestamp": INDEX, "mw": np.linspace(0, 1, 48)}).to_parquet(
        tmp_path / "s.parquet"
    )
    got = resolve_series(FileSeries(file="s.parquet"), INDEX, field="f", base_dir=tmp_path)
    np.testing.assert_allclose(got, np.linspace(0, 1, 48))


def test_time_column_in_another_offset_is_converted(tmp_path: Path) -> None:
    local = INDEX.tz_convert("Europe/Kyiv")
    pd.DataFrame({"time": local.astype(str), "v": np.arange(48.0)}).to_csv(
        tmp_path / "k.csv", index=False
    )
    got = resolve_series(FileSeries(file="k.csv"), INDEX, field="f", base_dir=tmp_path)
    np.testing.assert_array_equal(got, np.arange(48.0))


def test_several_value_columns_need_a_name(tmp_path: Path) -> None:
    pd.DataFrame({"a": np.ones(48), "b": np.ones(48)}).to_csv(tmp_path / "c.csv", index=False)
    with pytest.raises(ScenarioError, match="several value columns"):
        resolve_series(FileSeries(file="c.csv"), INDEX, field="f", base_dir=tmp_path)
    with pytest.raises(ScenarioError, match="column not found"):
        resolve_series(FileSeries(file="c.csv", column="z"), INDEX, field="f", base_dir=tmp_path)


def test_duplicate_and_extra_hours_are_errors(tmp_path: Path) -> None:
    dup = INDEX.append(INDEX[:1])
    pd.DataFrame({"time": dup, "v": 1.0}).to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(ScenarioError, match="repeats an hour"):
        resolve_series(FileSeries(file="d.csv"), INDEX, field="f", base_dir=tmp_path)
    more = hourly_index(INDEX[0], 49)
    pd.DataFrame({"time": more, "v": 1.0}).to_csv(tmp_path / "e.csv", index=False)
    with pytest.raises(ScenarioError, match="outside the horizon"):
        resolve_series(FileSeries(file="e.csv"), INDEX, field="f", base_dir=tmp_path)


def test_profile_shape_and_seed() -> None:
    year = hourly_index(pd.Timestamp("2027-01-01", tz="UTC"), 8760)
    spec = ProfileSeries(
        generator="profile",
        mean=100.0,
        seasonal_amplitude=0.5,
        peak_day=15,
        daily_amplitude=0.2,
        peak_hour=19,
    )
    v = resolve_series(spec, year, field="f")
    assert v.mean() == pytest.approx(100.0, rel=0.01)
    jan, jul = v[:744].mean(), v[4344:5088].mean()
    assert jan > 140 and jul < 60  # winter peak, summer trough
    day = v[:24]
    assert int(np.argmax(day)) == 19 and int(np.argmin(day)) == 7
    noisy = spec.model_copy(update={"noise": 0.1, "seed": 4})
    a, b = resolve_series(noisy, year, field="f"), resolve_series(noisy, year, field="f")
    np.testing.assert_array_equal(a, b)
    other = resolve_series(noisy.model_copy(update={"seed": 5}), year, field="f")
    assert not np.array_equal(a, other)
    clipped = resolve_series(noisy.model_copy(update={"max": 120.0}), year, field="f")
    assert clipped.max() == 120.0


def test_profile_weekend_and_local_time() -> None:
    spec = ProfileSeries(
        generator="profile",
        mean=10.0,
        weekend_factor=0.5,
        daily_amplitude=0.5,
        peak_hour=19,
        utc_offset_hours=2,
    )
    v = resolve_series(spec, INDEX, field="f")  # 2027-01-01 is a Friday
    assert int(np.argmax(v[:24])) == 17  # 19:00 local = 17:00 UTC
    idx = hourly_index(pd.Timestamp("2027-01-02", tz="UTC"), 24)  # Saturday
    sat = resolve_series(spec, idx, field="f")
    assert sat.max() == pytest.approx(0.5 * v[:24].max(), rel=1e-6)


def test_growth() -> None:
    year = hourly_index(pd.Timestamp("2027-01-01", tz="UTC"), 8761)
    v = resolve_series(
        GrowthSeries(generator="growth", start=100.0, annual_rate=0.2), year, field="f"
    )
    assert v[0] == 100.0 and v[8760] == pytest.approx(120.0)


def test_bounds_apply_to_every_hour() -> None:
    with pytest.raises(ScenarioError) as info:
        resolve_series(
            [0.5] * 47 + [1.5],
            INDEX,
            field="plant.units[0].availability",
            source="s.toml",
            bounds={"ge": 0, "le": 1},
        )
    assert info.value.field == "plant.units[0].availability"
    assert "hour 47" in str(info.value) and "≤ 1" in str(info.value)


def test_windows() -> None:
    windows = [
        Window(start="2027-01-01T05:00:00Z", hours=3),
        Window(start="2026-12-31T22:00:00Z", hours=4),
    ]
    mask = window_mask(windows, INDEX, field="w", source=None)
    assert list(np.flatnonzero(mask)) == [0, 1, 5, 6, 7]
