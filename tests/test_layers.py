"""Layers that hold: no private name imported across packages.

The packages' order (no cycles, no upward imports, counting imports inside
functions and under TYPE_CHECKING) is import-linter's contract in pyproject.toml,
run by .ci/run (`lint-imports`); this adds what import-linter does not check.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "gridhash"


def _package(module: str) -> str:
    """``gridhash.safety.state`` → ``safety``; a top-level module is its own package."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports(path: Path) -> list[tuple[int, str, str]]:
    """(line, module, name) of every ``from gridhash... import name`` in a file."""
    rel = path.relative_to(SRC.parent).with_suffix("")
    here = list(rel.parts)
    if path.name == "__init__.py":
        here = here[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = here[: len(here) - node.level] if path.name != "__init__.py" else here[
                : len(here) - node.level + 1]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        if module.split(".")[0] == "gridhash":
            out.extend((node.lineno, module, a.name) for a in node.names)
    return out


def test_no_private_name_is_imported_across_packages() -> None:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        own = _package(".".join(path.relative_to(SRC.parent).with_suffix("").parts))
        for line, module, name in _imports(path):
            private = name.startswith("_") and not name.startswith("__")
            if private and _package(module) != own:
                found.append(f"{path.relative_to(SRC.parent)}:{line}: {module}.{name}")
    assert not found, "private names imported across packages:\n" + "\n".join(found)


def test_the_check_sees_private_imports_inside_a_package() -> None:
    # Allowed (same package), and proof that the scan reads them: the scenario's
    # resolvers share its private series reader.
    found = _imports(SRC / "scenario" / "resolve_safety.py")
    assert any(m == "gridhash.scenario.resolve" and n == "_Resolver" for _, m, n in found)
