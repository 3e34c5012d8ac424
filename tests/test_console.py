"""Every command prints through one console that escapes control characters (issue 14):
the main CLI, the ledger's commands and the service's start-up lines."""

from __future__ import annotations

import io

from gridhash.console import console

HOSTILE = "reason \x1b]0;pwned\x07\x1b[2J\u202eevil"


def _printed(c) -> str:
    c.file = io.StringIO()
    c.print(HOSTILE)
    return c.file.getvalue()


def test_the_console_escapes_control_characters() -> None:
    out = _printed(console())
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "\\x1b]0;pwned\\x07\\x1b[2J\\u202eevil" in out


def test_the_ledger_commands_print_through_it() -> None:
    from gridhash.ledger import cli as ledger_cli

    out = _printed(ledger_cli._console())
    assert "\x1b" not in out and "\\x1b" in out


def test_the_service_start_up_lines_escape_control_characters() -> None:
    from gridhash.service import cli as service_cli

    buf = io.StringIO()
    service_cli._say(buf, f"demo: {HOSTILE}")
    text = buf.getvalue()
    assert text.endswith("\n") and "\x1b" not in text and "\x07" not in text
    assert "\\x1b]0;pwned" in text
