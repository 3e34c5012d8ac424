"""Exports of a scenario's dispatch problem to other tools (PyPSA: :mod:`gridhash.export.pypsa`)."""
