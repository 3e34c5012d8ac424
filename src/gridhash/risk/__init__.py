"""Risk analysis: distributions of outcomes instead of one deterministic year.

:mod:`gridhash.risk.models` holds the seeded stochastic input models (Bitcoin
price, difficulty, fees, grid prices, unit outages, off-site line cuts) and
:func:`~gridhash.risk.models.sample_paths`, which turns a resolved scenario's
:class:`~gridhash.scenario.resolve.Inputs` into per-path arrays to overlay.
See ``docs/risk.md`` for the models and their calibration.
"""

from __future__ import annotations
