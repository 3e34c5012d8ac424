"""Read a scenario: a TOML file or a built-in name, validated, errors for people."""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from gridhash.errors import ScenarioError
from gridhash.scenario.models import Scenario
from gridhash.scenario.references import CrossReferenceError

BUILTIN_PACKAGE = "gridhash.scenario.builtin"
DEFAULT_SCENARIO = "znpp"

# Tags of the SeriesSpec union; they appear in pydantic's error locations.
_UNION_TAGS = {"constant", "inline", "file", "profile", "growth"}


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario and where it came from (for relative paths and messages)."""

    scenario: Scenario
    source: str
    base_dir: Path | None
    text: str

    @property
    def name(self) -> str:
        return self.scenario.name


def builtin_names() -> list[str]:
    """Names of the scenarios shipped with gridhash, sorted, the default first."""
    names = sorted(
        p.name[: -len(".toml")]
        for p in resources.files(BUILTIN_PACKAGE).iterdir()
        if p.name.endswith(".toml")
    )
    if DEFAULT_SCENARIO in names:
        names.remove(DEFAULT_SCENARIO)
        names.insert(0, DEFAULT_SCENARIO)
    return names


def builtin_text(name: str) -> str:
    """The TOML text of a built-in scenario."""
    if name not in builtin_names():
        raise _unknown_scenario(name)
    return resources.files(BUILTIN_PACKAGE).joinpath(f"{name}.toml").read_text("utf-8")


def _unknown_scenario(name: str) -> ScenarioError:
    names = builtin_names()
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ScenarioError(
        f"no scenario file or built-in scenario by this name{hint}",
        value=name,
        expected=f"a path to a .toml file, or one of the built-ins: {', '.join(names)}",
    )


def load_scenario(ref: str | Path | None = None) -> LoadedScenario:
    """Load and validate a scenario from a file path or a built-in name.

    Parameters
    ----------
    ref : str or pathlib.Path, optional
        A path to a TOML file, or the name of a built-in scenario
        (``gridhash scenarios`` lists them). Defaults to ``znpp``.

    Raises
    ------
    ScenarioError
        Missing file, malformed TOML, or a field that fails validation; the
        message names the file, the field path, the value and what was expected.
    """
    ref = DEFAULT_SCENARIO if ref is None else ref
    path = Path(ref)
    if path.suffix.lower() == ".toml" or path.exists():
        if not path.is_file():
            raise ScenarioError(
                "scenario file not found",
                value=str(ref),
                expected="an existing .toml file, or a built-in name: "
                + ", ".join(builtin_names()),
            )
        text = read_utf8(path)
        return parse_scenario(text, source=str(path), base_dir=path.resolve().parent)
    name = str(ref)
    text = builtin_text(name)
    base_dir = Path(str(resources.files(BUILTIN_PACKAGE)))
    return parse_scenario(text, source=f"<built-in {name}>", base_dir=base_dir)


def read_utf8(path: Path) -> str:
    """The text of a scenario file, which TOML requires to be UTF-8.

    Raises
    ------
    ScenarioError
        The file cannot be read, or is not UTF-8 (the message says where the
        first bad byte is, and whether the file looks like UTF-16).
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(
            f"cannot read the scenario file ({exc.strerror or exc})",
            source=str(path),
            expected="a readable .toml file",
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        utf16 = raw[:2] in (b"\xff\xfe", b"\xfe\xff") or (len(raw) > 1 and b"\x00" in raw[:200])
        hint = " (it looks like UTF-16: save it as UTF-8)" if utf16 else ""
        raise ScenarioError(
            f"the file is not UTF-8 text: byte 0x{raw[exc.start]:02x} at offset {exc.start} "
            f"cannot be decoded{hint}",
            source=str(path),
            expected="a TOML file saved as UTF-8 (TOML requires it)",
        ) from None
    if "\x00" in text:
        raise ScenarioError(
            f"the file holds NUL bytes (the first at offset {text.index(chr(0))}); it looks "
            "like UTF-16 or a binary file",
            source=str(path),
            expected="a TOML file saved as UTF-8 (TOML requires it)",
        )
    return text.removeprefix("\ufeff")


def parse_scenario(text: str, *, source: str, base_dir: Path | None = None) -> LoadedScenario:
    """Validate TOML text as a scenario."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(
            f"malformed TOML: {exc}", expected="valid TOML (https://toml.io)", source=source
        ) from None
    scenario = validate(data, source=source)
    return LoadedScenario(scenario=scenario, source=source, base_dir=base_dir, text=text)


def validate(data: dict[str, Any], *, source: str) -> Scenario:
    """Validate a parsed scenario mapping, turning pydantic's errors into a ScenarioError."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise _to_scenario_error(exc, data, source) from None


def format_loc(loc: tuple[Any, ...]) -> str:
    """``('plant', 'units', 2, 'capacity_mw')`` → ``plant.units[2].capacity_mw``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _UNION_TAGS or str(part).startswith("function-"):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out


def describe(loc: tuple[Any, ...]) -> str | None:
    """The declared description and unit of the field at ``loc``, if it is a model field."""
    model: type[BaseModel] | None = Scenario
    info = None
    for part in loc:
        if isinstance(part, int) or part in _UNION_TAGS:
            continue
        if model is None or part not in model.model_fields:
            return None
        info = model.model_fields[part]
        model = _inner_model(info.annotation)
    if info is None:
        return None
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    unit = extra.get("unit")
    text = (info.description or "").rstrip(".")
    return f"{text} [{unit}]" if unit else text


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _value_at(data: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        if part in _UNION_TAGS and not (isinstance(data, dict) and part in data):
            continue
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return ...
    return data


def _to_scenario_error(exc: ValidationError, data: dict[str, Any], source: str) -> ScenarioError:
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = tuple(first["loc"])
    path = format_loc(loc) or "(top level)"
    more = f"(and {len(errors) - 1} more problem(s))" if len(errors) > 1 else None
    kind = first["type"]
    desc = describe(loc)
    if kind == "missing":
        return ScenarioError(
            "missing required field",
            expected=desc or "a value",
            note=more,
            source=source,
            field=path,
        )
    if kind == "extra_forbidden":
        return ScenarioError(
            "unknown field",
            value=first.get("input"),
            expected="one of the documented fields (see docs/scenario.md or `gridhash show`)",
            note=more,
            source=source,
            field=path,
        )
    problem = (first.get("ctx") or {}).get("error")
    if isinstance(problem, CrossReferenceError):
        return ScenarioError(
            problem.message,
            value=problem.value,
            expected=problem.expected,
            note=more,
            source=source,
            field=format_loc(loc + problem.loc),
        )
    value = _value_at(data, loc)
    if value is ...:
        value = first.get("input")
    if kind in _TYPE_WORDS:
        return ScenarioError(
            f"wrong type: {_kind_of(value)}",
            value=value,
            expected=_TYPE_WORDS[kind] + (f": {desc}" if desc else ""),
            note=more,
            source=source,
            field=path,
        )
    if kind in _BOUND_WORDS:
        ctx = first.get("ctx") or {}
        limit = next(iter(ctx.values()), None)
        unit = _unit_of(loc)
        shown = f"{limit:,}" if isinstance(limit, int) else f"{limit:g}"
        return ScenarioError(
            "out of range",
            value=value,
            expected=f"a value {_BOUND_WORDS[kind]} {shown}{' ' + unit if unit else ''}"
            + (f" ({desc})" if desc else ""),
            note=more,
            source=source,
            field=path,
        )
    msg = str(first["msg"]).removeprefix("Value error, ")
    head, _, expected = msg.partition("; expected ")
    # A check on a whole table (a model-level validator) says what is wrong in its
    # own words; the table itself is not the value, nor its description the expectation.
    table = isinstance(value, dict | list)
    return ScenarioError(
        head,
        value=... if table else value,
        expected=expected or (None if table else desc),
        note=more,
        source=source,
        field=path,
    )


#: What each of pydantic's strict type errors expected, in TOML's words.
_TYPE_WORDS = {
    "int_type": "an integer, written without quotes",
    "int_from_float": "an integer (no decimal point)",
    "float_type": "a number, written without quotes",
    "bool_type": "true or false, without quotes",
    "string_type": "text in quotes",
    "list_type": "an array [ ... ]",
    "model_type": "a table { ... }",
    "model_attributes_type": "a table { ... }",
    "dict_type": "a table { ... }",
    "datetime_type": "a date-time such as 2027-01-01T00:00:00Z",
    "datetime_parsing": "a date-time such as 2027-01-01T00:00:00Z",
    "datetime_from_date_parsing": "a date-time such as 2027-01-01T00:00:00Z",
    "literal_error": "one of the documented values",
    "series": "a number, a list of hourly numbers, {file = ...} or {generator = ...}",
}

_BOUND_WORDS = {
    "greater_than": ">",
    "greater_than_equal": "≥",
    "less_than": "<",
    "less_than_equal": "≤",
}


def _kind_of(value: Any) -> str:
    """How a TOML value reads to its author: 'text', 'a boolean', ..."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "text"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def _unit_of(loc: tuple[Any, ...]) -> str:
    model: type[BaseModel] | None = Scenario
    info = None
    for part in loc:
        if isinstance(part, int) or part in _UNION_TAGS:
            continue
        if model is None or part not in model.model_fields:
            return ""
        info = model.model_fields[part]
        model = _inner_model(info.annotation)
    extra = info.json_schema_extra if info is not None else None
    return str(extra.get("unit", "")) if isinstance(extra, dict) else ""
