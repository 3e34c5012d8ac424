"""A fitted risk model on disk (``risk-model.toml`` from ``gridhash calibrate``) and the
:class:`~gridhash.risk.models.bundle.RiskModel` it gives for a scenario
(``gridhash risk --model FILE``).

Each table replaces one default model; a model without a table keeps its default:

* ``[btc_price]``: ``model = "gbm"`` (``drift_per_year``, ``volatility_per_year``) or
  ``"bootstrap"`` (``history``, ``column``, ``block_h``: blocks of the file's own
  returns), starting from the scenario's first price;
* ``[fees]``: ``mean_btc_per_block``, ``log_sd``, ``half_life_h``;
* ``[grid_price]``: the ``profile`` shape (``mean_usd_per_mwh``, ``seasonal_amplitude``,
  ``peak_day``, ``daily_amplitude``, ``peak_hour``, ``weekend_factor``,
  ``utc_offset_hours``) with ``log_sd`` and ``half_life_h``, for ``offtake`` (default
  the scenario's first), floor and cap from the scenario's own price profile.
"""

from __future__ import annotations

import dataclasses
import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gridhash.errors import InputError
from gridhash.risk.models.btc_price import BootstrapPrice, GbmPrice
from gridhash.risk.models.fees import FeeModel
from gridhash.risk.models.grid_price import GridPriceAR1

if TYPE_CHECKING:
    from gridhash.risk.models.bundle import RiskModel
    from gridhash.scenario.load import LoadedScenario
    from gridhash.scenario.resolve import Inputs

_KEYS = {
    "btc_price": {"model", "drift_per_year", "volatility_per_year", "block_h", "history",
                  "column", "hours"},
    "fees": {"mean_btc_per_block", "log_sd", "half_life_h", "hours"},
    "grid_price": {"offtake", "mean_usd_per_mwh", "seasonal_amplitude", "peak_day",
                   "daily_amplitude", "peak_hour", "weekend_factor", "utc_offset_hours",
                   "log_sd", "half_life_h", "r_squared", "hours", "clipped_hours",
                   "seasonal_fitted"},
    "calibration": None,  # free-form: where the fit came from
}


@dataclass(frozen=True)
class FittedModel:
    """The tables of a risk-model file, checked, and the file's identity."""

    path: Path
    sha256: str
    tables: dict[str, dict[str, Any]]

    def record(self) -> dict[str, Any]:
        """For risk.json: which model file, exactly."""
        return {"file": str(self.path), "sha256": self.sha256,
                "models": sorted(k for k in self.tables if k != "calibration")}


def _err(path: Path, field: str, message: str, value: Any = ..., expected: str | None = None
         ) -> InputError:
    return InputError(message, source=str(path), field=field, value=value, expected=expected)


def load_fitted(path: Path) -> FittedModel:
    """Read and check a risk-model file (unknown tables or keys are errors)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _err(path, "--model", f"cannot read the risk model: {exc.strerror}",
                   expected="a risk-model.toml from `gridhash calibrate`") from None
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise _err(path, "--model", f"not valid TOML: {exc}") from None
    for table, body in doc.items():
        if table not in _KEYS:
            raise _err(path, table, "unknown table", expected=f"one of {sorted(_KEYS)}")
        allowed = _KEYS[table]
        if allowed is not None:
            for key in body:
                if key not in allowed:
                    raise _err(path, f"{table}.{key}", "unknown key",
                               expected=f"one of {sorted(allowed)}")
    if not any(t in doc for t in ("btc_price", "fees", "grid_price")):
        raise _err(path, "--model", "the file fits no model",
                   expected="a [btc_price], [fees] or [grid_price] table")
    return FittedModel(path, hashlib.sha256(raw).hexdigest(), doc)


def _num(fm: FittedModel, table: str, key: str) -> float:
    value = fm.tables[table].get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _err(fm.path, f"{table}.{key}", "missing or not a number", value,
                   "a number (see docs/data.md)")
    return float(value)


def _btc(fm: FittedModel, inputs: Inputs) -> GbmPrice | BootstrapPrice:
    t = fm.tables["btc_price"]
    start = float(inputs.btc_price_usd[0])
    kind = t.get("model", "gbm")
    if kind == "gbm":
        return GbmPrice(start_price_usd=start, drift_per_year=_num(fm, "btc_price",
                                                                   "drift_per_year"),
                        volatility_per_year=_num(fm, "btc_price", "volatility_per_year"))
    if kind != "bootstrap":
        raise _err(fm.path, "btc_price.model", "unknown model", kind, "gbm or bootstrap")
    import pandas as pd

    hist = fm.path.parent / str(t.get("history", ""))
    column = str(t.get("column", "price_usd"))
    try:
        frame = pd.read_parquet(hist) if hist.suffix.lower() in (".parquet", ".pq") \
            else pd.read_csv(hist)
        prices = pd.Series(frame[column].to_numpy(dtype=float),
                           index=pd.DatetimeIndex(pd.to_datetime(frame["time"], utc=True)))
    except Exception as exc:  # missing file or column, unreadable table
        raise _err(fm.path, "btc_price.history", f"cannot read the price history: {exc}",
                   str(hist), "the history file (relative to the model file) with time and "
                   f"{column!r}") from None
    return BootstrapPrice.from_prices(prices, start_price_usd=start,
                                      block_h=_num(fm, "btc_price", "block_h"))


def _grid(fm: FittedModel, inputs: Inputs, loaded: LoadedScenario | None,
          models: list[Any]) -> list[Any]:
    from gridhash.scenario.models import ProfileSeries

    t = fm.tables["grid_price"]
    names = list(inputs.offtake_names)
    offtake = t.get("offtake", names[0] if names else None)
    if offtake not in names:
        raise _err(fm.path, "grid_price.offtake", "no such offtake in the scenario", offtake,
                   f"one of {names}")
    own = None
    if loaded is not None:
        own = {o.name: o.price_usd_per_mwh for o in loaded.scenario.grid.offtakes}.get(offtake)
    bounds = ({"min": own.min, "max": own.max} if isinstance(own, ProfileSeries)
              else {"min": None, "max": None})
    spec = ProfileSeries(
        generator="profile", mean=_num(fm, "grid_price", "mean_usd_per_mwh"),
        seasonal_amplitude=_num(fm, "grid_price", "seasonal_amplitude"),
        peak_day=_num(fm, "grid_price", "peak_day"),
        daily_amplitude=_num(fm, "grid_price", "daily_amplitude"),
        peak_hour=_num(fm, "grid_price", "peak_hour"),
        weekend_factor=_num(fm, "grid_price", "weekend_factor"),
        utc_offset_hours=_num(fm, "grid_price", "utc_offset_hours"), **bounds)
    o = names.index(offtake)
    models = list(models) or [None] * len(names)
    models[o] = GridPriceAR1.from_profile(spec, inputs.index,
                                          log_sd=_num(fm, "grid_price", "log_sd"),
                                          half_life_h=_num(fm, "grid_price", "half_life_h"))
    return models


def apply_fitted(default: RiskModel, fm: FittedModel, inputs: Inputs,
                 loaded: LoadedScenario | None = None) -> RiskModel:
    """``default`` with the fitted tables' models in place of its own."""
    update: dict[str, Any] = {}
    if "btc_price" in fm.tables:
        update["btc_price"] = _btc(fm, inputs)
    if "fees" in fm.tables:
        update["fees"] = FeeModel(mean_btc_per_block=_num(fm, "fees", "mean_btc_per_block"),
                                  log_sd=_num(fm, "fees", "log_sd"),
                                  half_life_h=_num(fm, "fees", "half_life_h"))
    if "grid_price" in fm.tables:
        update["grid_prices"] = tuple(_grid(fm, inputs, loaded, list(default.grid_prices)))
    return dataclasses.replace(default, **update)


def toml_text(tables: dict[str, dict[str, Any]], header: str) -> str:
    """Flat TOML tables (numbers, strings, booleans, lists and tables of those)."""
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | np.integer):
            return str(int(v))
        if isinstance(v, float | np.floating):
            return repr(float(v))
        if isinstance(v, list | tuple):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{_key(k)} = {value(x)}" for k, x in v.items()) + " }"
        s = str(v).replace("\\", "\\\\").replace('"', '\\"')
        return f'"{s}"'

    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    for name, body in tables.items():
        lines += ["", f"[{name}]"]
        lines += [f"{_key(k)} = {value(v)}" for k, v in body.items() if v is not None]
    return "\n".join(lines) + "\n"


def _key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else f'"{k}"'
