"""What the grid connection allows, from the lines in service: the one import cap."""

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
