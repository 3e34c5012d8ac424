"""``gridhash ledger ...``: verify a ledger, prove an entry, check a proof alone, manage keys.

Exit codes: 0 when everything checked holds; 1 when a ledger or proof fails
verification (the first discrepancy is named: entry or tree head, field,
expected and found); 2 for bad input (a missing or malformed file, raised as
:class:`gridhash.errors.GridhashError` and printed by the main CLI).

The app is mounted in the main CLI with ``app.add_typer(ledger_app, name="ledger")``.
Everything beyond typer is imported inside the commands.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from gridhash.ledger.verify import Discrepancy, VerifyReport

ledger_app = typer.Typer(
    name="ledger",
    help="The verifiable ledger: verify it, prove an entry, check a proof alone.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

KeysOption = Annotated[
    Path | None,
    typer.Option(
        "--keys",
        help="Directory of the parties' public keys (<party>.pub); every tree head must "
        "carry a valid signature by each.",
        show_default=False,
    ),
]


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 160
    return Console(stderr=stderr, highlight=False, width=width, soft_wrap=False)


def _esc(text: object) -> str:
    from rich.markup import escape

    return escape(str(text))


def _grid(rows: list[tuple[str, str]]) -> Any:
    from rich.table import Table

    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for name, value in rows:
        table.add_row(name, value)
    return table


def _short_hex(value: bytes) -> str:
    text = value.hex()
    return f"{text[:16]}…"


def _print_discrepancy(console: Any, d: Discrepancy) -> None:
    console.print(
        _grid(
            [
                ("where", _esc(d.where)),
                ("field", _esc(d.field)),
                ("expected", _esc(d.expected)),
                ("found", _esc(d.found)),
                ("why", _esc(d.message)),
            ]
        )
    )


def _print_report(console: Any, report: VerifyReport, keys: Path | None) -> None:
    if report.ok:
        console.print(
            f"[bold green]✓[/bold green] {_esc(report.path)}: {report.entries:,} entries verified"
        )
    else:
        first = report.first
        assert first is not None
        console.print(
            f"[bold red]✗[/bold red] {_esc(report.path)}: verification FAILED at "
            f"{_esc(first.where)}"
        )
        _print_discrepancy(console, first)
        more = len(report.discrepancies) - 1
        if more:
            noun = "discrepancy" if more == 1 else "discrepancies"
            stop = (
                f" (verification stopped at {len(report.discrepancies)})"
                if report.truncated
                else ""
            )
            console.print(f"and {more:,} more {noun} after it{stop}")
        console.print()
    head = report.latest_head
    rows = [("ledger", _esc(report.ledger_id)), ("entries", f"{report.entries:,}")]
    if head is None:
        rows.append(("tree heads", "none signed yet"))
    else:
        rows.append(
            (
                "tree heads",
                f"{report.tree_heads:,} (latest: size {head.size:,}, root "
                f"{_short_hex(head.root)}, {head.timestamp})",
            )
        )
    who = ", ".join(report.parties) or "nobody"
    if report.keys_given:
        source = f"keys from {_esc(keys)}" if keys is not None else "keys given"
        rows.append(("signatures", f"{report.signatures_checked:,} by {_esc(who)} ({source})"))
    else:
        rows.append(
            (
                "signatures",
                f"{report.signatures_checked:,} by {_esc(who)} [yellow](checked against the keys "
                "recorded in the ledger: pass --keys to check who signed)[/yellow]",
            )
        )
    rows.append(("interior nodes", f"{report.nodes_checked:,} recomputed"))
    rows.append(
        ("consistency", f"{report.consistency_checked:,} successive tree head pairs proven")
    )
    if report.unsigned:
        rows.append(("unsigned", f"{report.unsigned:,} entries after the latest signed head"))
    rows.append(("time", f"{report.seconds:.2f} s"))
    console.print(_grid(rows))


@ledger_app.command()
def verify(
    path: Annotated[Path, typer.Argument(help="The ledger file.")],
    keys: KeysOption = None,
) -> None:
    """Recompute every hash, root, signature and statement; exit 1 at the first discrepancy."""
    from gridhash.ledger.signing import load_public_keys
    from gridhash.ledger.verify import verify_ledger
    from gridhash.settlement.record import CHECKERS

    public = None if keys is None else load_public_keys(keys)
    # Statements are recomputed from the meter records and the agreement on the ledger.
    report = verify_ledger(path, public, CHECKERS)
    _print_report(_console(), report, keys)
    if not report.ok:
        raise typer.Exit(1)


@ledger_app.command()
def proof(
    path: Annotated[Path, typer.Argument(help="The ledger file.")],
    entry: Annotated[int, typer.Argument(help="The entry's sequence number (0-based).")],
    keys: KeysOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the proof bundle as JSON (to save and send).")
    ] = False,
    size: Annotated[
        int | None,
        typer.Option(
            "--size",
            help="Use the signed tree head of this size [default: the latest].",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Print the inclusion proof of an entry under a signed tree head, for anyone to check."""
    from gridhash.ledger.signing import fingerprint, load_public_keys
    from gridhash.ledger.store import Ledger

    with Ledger.open(path, readonly=True) as ledger:
        bundle = ledger.proof_bundle(entry, size)
    if keys is not None:
        bundle.check(list(load_public_keys(keys).values()))  # ProofError: exit 1
    if as_json:
        sys.stdout.write(bundle.to_json())
        return
    head = bundle.tree_head
    e = bundle.entry
    console = _console()
    rows = [
        ("entry", f"{e.seq} ({_esc(e.kind)}, {e.timestamp})"),
        ("payload", _esc(e.payload_json)),
        ("leaf hash", e.leaf_hash.hex()),
        ("tree head", f"size {head.size:,}, {head.timestamp}"),
        ("root", head.root.hex()),
        ("ledger", _esc(head.ledger_id)),
        ("audit path", "\n".join(h.hex() for h in bundle.audit_path) or "(empty)"),
        (
            "signed by",
            ", ".join(
                f"{_esc(s.party)} (key {fingerprint(s.public_key)})" for s in head.signatures
            ),
        ),
    ]
    if keys is not None:
        rows.append(("checked", f"[green]✓[/green] against the keys in {_esc(keys)}"))
    console.print(_grid(rows))
    console.print("[dim]--json prints this bundle for `gridhash ledger check-proof`[/dim]")


@ledger_app.command("check-proof")
def check_proof(
    file: Annotated[Path, typer.Argument(help="A proof bundle (from `ledger proof --json`).")],
    key: Annotated[
        list[Path],
        typer.Option(
            "--key",
            help="A party's public key file (PEM); repeat for each party whose signature "
            "the tree head must carry.",
        ),
    ],
) -> None:
    """Check a saved proof bundle alone: entry → leaf hash → audit path → signed root."""
    from gridhash.ledger.bundle import ProofBundle
    from gridhash.ledger.errors import ProofError
    from gridhash.ledger.signing import load_public_key

    publics = [load_public_key(k) for k in key]
    bundle = ProofBundle.load(file)
    console = _console()
    try:
        bundle.check(publics)
    except ProofError as exc:
        console.print(f"[bold red]✗[/bold red] {_esc(file)}: {_esc(exc)}", soft_wrap=True)
        raise typer.Exit(1) from None
    head = bundle.tree_head
    signers = ", ".join(f"{_esc(k.party)} (key {k.fingerprint})" for k in publics)
    console.print(
        f"[bold green]✓[/bold green] entry {bundle.entry.seq} ({_esc(bundle.entry.kind)}) is in "
        f"ledger {_esc(head.ledger_id)} at tree size {head.size:,} (root "
        f"{_short_hex(head.root)}), signed {head.timestamp} by {signers}",
        soft_wrap=True,
    )


@ledger_app.command()
def keygen(
    party: Annotated[str, typer.Argument(help="Party id (letters, digits, '_', '.', '-').")],
    keys: Annotated[Path, typer.Option("--keys", help="Key directory [default: keys].")] = Path(
        "keys"
    ),
) -> None:
    """Generate an Ed25519 key: <party>.key (private, mode 0600) and <party>.pub (to share)."""
    from gridhash.ledger.signing import PRIVATE_SUFFIX, PUBLIC_SUFFIX, generate_key

    key = generate_key(keys, party)
    console = _console()
    console.print(
        f"wrote {_esc(keys / (party + PRIVATE_SUFFIX))} (keep it private) and "
        f"{_esc(keys / (party + PUBLIC_SUFFIX))} (give it to the other parties); "
        f"fingerprint {key.public.fingerprint}",
        soft_wrap=True,
    )


@ledger_app.command()
def sign(
    path: Annotated[Path, typer.Argument(help="The ledger file.")],
    keys: Annotated[
        Path, typer.Option("--keys", help="Directory holding the signing party's <party>.key.")
    ],
) -> None:
    """Sign the ledger's current tree head with every private key in --keys.

    When the latest tree head already covers every entry, its signatures are
    added to that head (countersigning); otherwise a new head is signed.
    Verify the ledger first.
    """
    from gridhash.ledger.errors import KeyFileError
    from gridhash.ledger.signing import load_keys
    from gridhash.ledger.store import Ledger

    private = load_keys(keys)
    if not private:
        raise KeyFileError("no private keys (<party>.key) in directory", source=str(keys))
    with Ledger.open(path) as ledger:
        latest = ledger.head()
        if latest is not None and latest.size == ledger.size:
            if all(latest.signature_by(party) for party in private):
                head, action = latest, "already signed"
            else:
                head = ledger.cosign(private, latest.index)
                action = "countersigned"
        else:
            head = ledger.sign_head(private)
            action = "signed"
    _console().print(
        f"{action} tree head {head.index} (size {head.size:,}, root {_short_hex(head.root)}) "
        f"as {_esc(', '.join(private))}",
        soft_wrap=True,
    )
