"""Generate ``docs/scenario.md`` from the scenario models (one schema, many views).

    python -m gridhash.scenario.reference > docs/scenario.md

A test fails when the committed file differs from what this prints.
"""

from __future__ import annotations

import sys
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from gridhash.scenario.models import SCENARIO_PARTS, FileSeries, GrowthSeries, ProfileSeries

_SERIES_MODELS = {FileSeries, ProfileSeries, GrowthSeries}

HEADER = """# Scenario reference

*Generated from `gridhash.scenario.models` by `python -m gridhash.scenario.reference`;
do not edit by hand.*

A scenario is a TOML file. Times are UTC; the resolution is one hour. A field
marked **static or series** takes a number (the same every hour) or an hourly
series: an inline list with one value per hour, `{file = "x.csv", column = "c"}`
(CSV or Parquet beside the scenario; an optional `time` column must cover each
hour of the horizon exactly once), `{generator = "profile", ...}` or
`{generator = "growth", ...}`. Bounds on a series apply to every hour.

`gridhash show znpp` prints a complete example.
"""


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in args if a is not type(None)]
        if set(names) >= {"number", "list of number"} or any(
            a in _SERIES_MODELS for a in _flatten(annotation)
        ):
            return "static or series"
        suffix = " (optional)" if type(None) in args else ""
        return " or ".join(names) + suffix
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
        return {
            float: "number",
            int: "integer",
            str: "text",
            bool: "boolean",
        }.get(annotation, annotation.__name__)
    return str(annotation)


def _flatten(annotation: Any) -> list[Any]:
    out = []
    for arg in typing.get_args(annotation):
        out.extend(_flatten(arg) if typing.get_args(arg) else [arg])
    return out


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None:
        value = info.default_factory()  # type: ignore[call-arg]
        return "`[]`" if value == [] else "(see part)"
    if info.default is PydanticUndefined:
        return "**required**"
    if info.default is None:
        return "none"
    return f"`{info.default!r}`"


def _bounds(info: FieldInfo) -> str:
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    found = {k: extra[k] for k in ("ge", "gt", "le", "lt") if k in extra}
    for meta in info.metadata:
        for key in ("ge", "gt", "le", "lt", "min_length"):
            if getattr(meta, key, None) is not None:
                found[key] = getattr(meta, key)
    signs = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<", "min_length": "length ≥"}
    return ", ".join(f"{signs[k]} {v:g}" if not isinstance(v, str) else v for k, v in found.items())


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render_reference() -> str:
    """The whole reference page as Markdown."""
    out = [HEADER]
    for model in SCENARIO_PARTS:
        out.append(f"\n## {model.__name__}\n")
        doc = (model.__doc__ or "").strip()
        if doc:
            out.append(_cell(doc.split("\n\n")[0]) + "\n")
        out.append("\n| field | type | unit | default | bounds | description |")
        out.append("|---|---|---|---|---|---|")
        for name, info in model.model_fields.items():
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            out.append(
                f"| `{name}` | {_type_name(info.annotation)} | {extra.get('unit') or ''} | "
                f"{_default(info)} | {_bounds(info)} | {_cell(info.description or '')} |"
            )
    return "\n".join(out) + "\n"


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(render_reference())
