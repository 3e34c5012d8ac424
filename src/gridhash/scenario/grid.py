"""What the grid connection allows, from the lines in service: the one import cap.

Imports serve the house load only, and only the part of it the units cannot make:
:func:`import_cap_mw` bounds them by the lines in service, the house load and the
scenario's own limit; :func:`house_import_cap_mw` lowers that cap to the house load
the units cannot make in the hour (the solvers apply it last, on the units' final
bounds, through :func:`gridhash.dispatch.problem.with_dispatch_rules`).  Nothing
else computes an import cap.
"""

from __future__ import annotations

import numpy as np


def import_cap_mw(house_load_mw: np.ndarray, line_capacity_mw: np.ndarray,
                  import_limit_mw: np.ndarray | None = None) -> np.ndarray:
    """Power the plant can import for its house load over the lines in service.

    The smaller of the house load, the capacity of all lines in service (imports
    serve the house load only) and the scenario's own import cap
    (``grid.imports_allowed`` / ``grid.import_cap_mw``).

    Parameters
    ----------
    house_load_mw : numpy.ndarray
        (T,) the plant's own consumption. [MW]
    line_capacity_mw : numpy.ndarray
        (..., L, T) capacity of each line in service, 0 where out (leading path
        axes allowed). [MW]
    import_limit_mw : numpy.ndarray, optional
        (T,) the most the plant may import whatever the lines allow; None: no such
        cap. [MW]

    Returns
    -------
    numpy.ndarray
        (..., T) the import cap. [MW]
    """
    cap = np.minimum(house_load_mw, line_capacity_mw.sum(axis=-2))
    return cap if import_limit_mw is None else np.minimum(cap, import_limit_mw)


def house_import_cap_mw(import_cap_mw: np.ndarray, house_load_mw: np.ndarray,
                        unit_available_mw: np.ndarray) -> np.ndarray:
    """The import cap lowered to the house load the units cannot make.

    Imported power is not passed on: otherwise an hour whose units are capped (by
    the safety envelope) could import for its house load and send every MW the
    units make to the grid or to mining, which would in effect be served with
    imported power, above what the plant may generate.

    Parameters
    ----------
    import_cap_mw : numpy.ndarray
        (..., T) the cap of :func:`import_cap_mw` (or the envelope's, which may
        close imports in hours that mine). [MW]
    house_load_mw : numpy.ndarray
        (..., T) the plant's own consumption. [MW]
    unit_available_mw : numpy.ndarray
        (..., U, T) what the units may generate. [MW]

    Returns
    -------
    numpy.ndarray
        (..., T) ``min(import_cap, max(0, house − Σ_u avail))``. [MW]  Applying it
        again gives the same array; a window of the fast path (lower unit bounds)
        is cut from a problem it was already applied to, so it is taken once, on
        the whole problem.
    """
    unmade = np.maximum(0.0, house_load_mw - unit_available_mw.sum(axis=-2))
    return np.minimum(import_cap_mw, unmade)
