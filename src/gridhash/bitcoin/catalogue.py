"""Catalogue of SHA-256 ASIC miners: specs, prices and where they come from.

The data lives in the packaged ``catalogue.toml`` (one table per model under
``[models."<name>"]``).  Every entry carries the source of its specs and of its
price; a price that could not be sourced is flagged ``price_note =
"assumption: ..."`` and taken at the $/TH of the nearest cited comparable.
Every entry says how it is cooled (:data:`COOLING`).  Efficiency is not stored
but derived as
``power_w / hashrate_th`` [J/TH]; ``stated_efficiency_j_per_th`` keeps the
published figure so the two can be checked against each other.

References
----------
.. [1] Hashrate Index, "Hardware Review: Canaan's A16 Series".
   https://hashrateindex.com/blog/hardware-review-canaans-a16-series
.. [2] Mining Store, "The Definitive Guide to Antminer S19 Series Bitcoin Miners".
   https://miningstore.com/understanding-the-bitcoin-mining-rig-market/the-definitive-guide-to-antminer-s19-series-bitcoin-miners/
.. [3] Hashrate Index, "As ASIC Prices Shrunk in 2022, the Antminer S19 XP's
   Price Premium Grew".
   https://hashrateindex.com/blog/as-asic-prices-shrunk-in-2022-the-antminer-s19-xps-price-premium-grew/
.. [4] Hashrate Index, "Hashrate Index Roundup (November 3, 2025)" (the S21 XP at
   25.70 $/TH, the basis of the assumed prices under 14 J/TH).
   https://hashrateindex.com/blog/hashrate-index-roundup-november-3-2025

(Each model's own sources are in its ``source`` and ``price_source`` fields.)
"""

from __future__ import annotations

import difflib
import functools
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from importlib import resources
from types import MappingProxyType
from typing import Any

from gridhash.errors import CatalogueError

__all__ = [
    "CATALOGUE_RESOURCE",
    "COOLING",
    "AsicModel",
    "get_model",
    "load_catalogue",
    "parse_catalogue",
    "released_by",
    "user_model",
    "with_user_models",
]

#: Name of the packaged catalogue file inside ``gridhash.bitcoin``.
CATALOGUE_RESOURCE = "catalogue.toml"
_SOURCE = "gridhash/bitcoin/catalogue.toml"
_DATE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")
_ASSUMPTION = "assumption:"
#: How a catalogue model is cooled: by fans (air), by water plates (hydro) or in a
#: dielectric bath (immersion).
COOLING = ("air", "hydro", "immersion")


@dataclass(frozen=True)
class AsicModel:
    """One ASIC miner model.

    Attributes
    ----------
    name : str
        Model name, the catalogue key. [-]
    manufacturer : str
        Manufacturer. [-]
    hashrate_th : float
        Nameplate hashrate. [TH/s]
    power_w : float
        Nameplate power at the wall. [W]
    price_usd : float
        Price of one unit. [$]
    price_date : str
        Date of the price, ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``. [-]
    released : str
        Release date, same format, or ``"unknown"``. [-]
    source : str
        Title and URL of the spec source(s). [-]
    price_source : str
        Title and URL of the price source; empty when the price is an assumption. [-]
    stated_efficiency_j_per_th : float
        Efficiency as published by the source. [J/TH]
    cooling : str
        ``"air"``, ``"hydro"`` or ``"immersion"`` (:data:`COOLING`); empty for a
        user-defined model, whose data sheet in the scenario does not state it. [-]
    price_note : str
        How the price was derived, or ``"assumption: ..."``. [-]
    notes : str
        Caveats about the entry. [-]
    """

    name: str
    manufacturer: str
    hashrate_th: float
    power_w: float
    price_usd: float
    price_date: str
    released: str
    source: str
    price_source: str
    stated_efficiency_j_per_th: float
    cooling: str = ""
    price_note: str = ""
    notes: str = ""

    @property
    def efficiency_j_per_th(self) -> float:
        """Derived efficiency ``power_w / hashrate_th``. [J/TH]"""
        return self.power_w / self.hashrate_th

    @property
    def price_is_assumption(self) -> bool:
        """Whether the price is an assumption rather than sourced. [-]"""
        return self.price_note.strip().lower().startswith(_ASSUMPTION)


_NUMBERS = ("hashrate_th", "power_w", "price_usd", "stated_efficiency_j_per_th")
_REQUIRED_TEXT = ("manufacturer", "price_date", "released", "source", "cooling")
_OPTIONAL_TEXT = ("price_source", "price_note", "notes")
_FIELDS = frozenset(_NUMBERS + _REQUIRED_TEXT + _OPTIONAL_TEXT)


def _error(
    message: str, name: str, field: str | None, value: Any, expected: str, source: str
) -> CatalogueError:
    where = f"models.{name!r}" + (f".{field}" if field else "")
    return CatalogueError(message, source=source, field=where, value=value, expected=expected)


def _parse_entry(name: str, entry: Any, source: str) -> AsicModel:
    if not isinstance(entry, dict):
        raise _error("catalogue entry is not a table", name, None, entry, "a TOML table", source)
    unknown = sorted(set(entry) - _FIELDS)
    if unknown:
        raise _error(
            "unknown field in catalogue entry",
            name,
            unknown[0],
            entry[unknown[0]],
            "one of " + ", ".join(sorted(_FIELDS)),
            source,
        )
    values: dict[str, Any] = {}
    for field in _NUMBERS:
        if field not in entry:
            raise _error("missing field", name, field, ..., "a positive number", source)
        value = entry[field]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value <= 0
        ):
            raise _error("invalid number", name, field, value, "a finite number > 0", source)
        values[field] = float(value)
    for field in _REQUIRED_TEXT + _OPTIONAL_TEXT:
        required = field in _REQUIRED_TEXT
        if field not in entry:
            if required:
                raise _error("missing field", name, field, ..., "a non-empty string", source)
            values[field] = ""
            continue
        value = entry[field]
        if not isinstance(value, str) or (required and not value.strip()):
            expected = "a non-empty string" if required else "a string"
            raise _error("invalid text", name, field, value, expected, source)
        values[field] = value.strip()
    if not _DATE.match(values["price_date"]):
        raise _error(
            "invalid date",
            name,
            "price_date",
            values["price_date"],
            "YYYY, YYYY-MM or YYYY-MM-DD",
            source,
        )
    if values["released"] != "unknown" and not _DATE.match(values["released"]):
        raise _error(
            "invalid date",
            name,
            "released",
            values["released"],
            "YYYY, YYYY-MM, YYYY-MM-DD or 'unknown'",
            source,
        )
    if values["cooling"] not in COOLING:
        raise _error(
            "invalid cooling", name, "cooling", values["cooling"], " or ".join(COOLING), source
        )
    is_assumption = values["price_note"].lower().startswith(_ASSUMPTION)
    if not values["price_source"] and not is_assumption:
        raise _error(
            "price has neither a source nor an assumption note",
            name,
            "price_source",
            values["price_source"],
            "a non-empty price_source, or price_note starting with 'assumption:'",
            source,
        )
    return AsicModel(name=name, **values)


def parse_catalogue(text: str, source: str = _SOURCE) -> dict[str, AsicModel]:
    """Parse and validate catalogue TOML text.

    Parameters
    ----------
    text : str
        TOML document with one ``[models."<name>"]`` table per model. [-]
    source : str, optional
        Name of the document, used in error messages. [-]

    Returns
    -------
    models : dict of str to AsicModel
        Models keyed by name, in file order. [-]

    Raises
    ------
    CatalogueError
        If the TOML is malformed or an entry is invalid; the error names the
        entry and field, the value found and what was expected.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"malformed TOML: {exc}", source=source) from exc
    models = document.get("models")
    if not isinstance(models, dict) or not models:
        raise CatalogueError(
            "no models in catalogue",
            source=source,
            field="models",
            value=models if models is not None else ...,
            expected='at least one [models."<name>"] table',
        )
    return {name: _parse_entry(name, entry, source) for name, entry in models.items()}


@functools.lru_cache(maxsize=1)
def _cached_catalogue() -> MappingProxyType[str, AsicModel]:
    text = resources.files("gridhash.bitcoin").joinpath(CATALOGUE_RESOURCE).read_text("utf-8")
    return MappingProxyType(parse_catalogue(text))


def load_catalogue() -> dict[str, AsicModel]:
    """Load the packaged ASIC catalogue.

    The file is read and validated once (``functools.lru_cache``); each call
    returns a new dict of the (immutable) models, so callers may modify it freely.

    Returns
    -------
    models : dict of str to AsicModel
        Models keyed by name. [-]

    Raises
    ------
    CatalogueError
        If the packaged catalogue is invalid.
    """
    return dict(_cached_catalogue())


def get_model(name: str, models: Mapping[str, AsicModel] | None = None) -> AsicModel:
    """Look up a model by name: exact match first, then case-insensitive.

    Parameters
    ----------
    name : str
        Model name, e.g. ``"Antminer S21 XP"``. [-]
    models : mapping of str to AsicModel, optional
        Where to look (e.g. :func:`with_user_models`); default: the catalogue. [-]

    Returns
    -------
    model : AsicModel
        The catalogue entry. [-]

    Raises
    ------
    CatalogueError
        If no model matches; the message suggests the closest names.
    """
    catalogue = _cached_catalogue() if models is None else models
    names = list(catalogue)
    expected = "one of the catalogue's models: " + ", ".join(names)
    if not isinstance(name, str):
        raise CatalogueError(
            "ASIC model name must be a string", field="model", value=name, expected=expected
        )
    if name in catalogue:
        return catalogue[name]
    folded = {n.casefold(): n for n in names}
    key = " ".join(name.split()).casefold()
    if key in folded:
        return catalogue[folded[key]]
    close = difflib.get_close_matches(key, list(folded), n=3, cutoff=0.5)
    message = f"unknown ASIC model {name!r}"
    if close:
        message += "; did you mean " + " or ".join(repr(folded[c]) for c in close) + "?"
    raise CatalogueError(message, field="model", value=name, expected=expected)


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()


def user_model(
    name: str,
    *,
    hashrate_th: float,
    power_w: float,
    price_usd: float,
    source: str,
    release: date | None = None,
) -> AsicModel:
    """An ASIC model from a scenario's data sheet (``[[mining.models]]``).

    Parameters
    ----------
    name : str
        Model name. [-]
    hashrate_th : float
        Nameplate hashrate. [TH/s]
    power_w : float
        Nameplate power at the wall. [W]
    price_usd : float
        Price of one machine. [$]
    source : str
        Where the figures come from. [-]
    release : datetime.date, optional
        Release date; None: taken as available. [-]
    """
    released = release.isoformat() if release is not None else "unknown"
    return AsicModel(
        name=name,
        manufacturer="user-defined",
        hashrate_th=float(hashrate_th),
        power_w=float(power_w),
        price_usd=float(price_usd),
        price_date=released,
        released=released,
        source=source,
        price_source=source,
        stated_efficiency_j_per_th=float(power_w) / float(hashrate_th),
        price_note="from the scenario's [[mining.models]]",
    )


def with_user_models(user: Sequence[AsicModel]) -> dict[str, AsicModel]:
    """The catalogue plus a scenario's own models (theirs after the catalogue's).

    Raises
    ------
    CatalogueError
        If a user model's name is a catalogue model's (case and spacing
        ignored) or two user models share a name; the message names both.
    """
    merged = dict(_cached_catalogue())
    folded = {_key(n): n for n in merged}
    for m in user:
        clash = folded.get(_key(m.name))
        if clash is not None:
            other = merged[clash]
            what = (f"the catalogue's {clash!r} ({other.manufacturer}, {other.hashrate_th:g} "
                    f"TH/s, {other.power_w:g} W)" if other.manufacturer != "user-defined"
                    else f"the user-defined model {clash!r} defined before it")
            raise CatalogueError(
                f"user-defined ASIC model {m.name!r} has the name of {what}",
                field="name",
                value=m.name,
                expected="a name that is not in the catalogue (rename the user-defined model)",
            )
        merged[m.name] = m
        folded[_key(m.name)] = m.name
    return merged


def released_by(model: AsicModel, when: date) -> bool:
    """Whether ``model`` is on sale on ``when``.

    A release given as a year or a month counts from the end of that year or
    month (the first day it is certainly out); ``"unknown"`` counts as released
    (older catalogue entries, user models without a date).
    """
    r = model.released
    if r == "unknown":
        return True
    parts = [int(p) for p in r.split("-")]
    if len(parts) == 1:
        first_sure = date(parts[0], 12, 31)
    elif len(parts) == 2:
        y, m = parts
        nxt = date(y + (m == 12), m % 12 + 1, 1)
        first_sure = date.fromordinal(nxt.toordinal() - 1)
    else:
        first_sure = date(*parts)
    return first_sure <= when
