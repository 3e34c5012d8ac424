"""``gridhash ledger ...``: keys and keyrings, verify, sign, checkpoints, proofs, witness.

Every check trusts only the caller's keyring (``--keyring FILE``, or ``--keys
DIR`` of public keys) and the checkpoints it saved.  Exit codes: 0 when
everything checked holds; 1 when a check fails (a ledger, a proof, a
checkpoint, a witness's alarm; the first discrepancy is named: entry or tree
head, field, expected and found); 2 for bad input (a missing or malformed file,
raised as :class:`gridhash.errors.GridhashError` and printed by the main CLI).

The app is mounted in the main CLI with ``app.add_typer(ledger_app, name="ledger")``;
the ledger knows no payloads, so the main CLI hands in the payload checkers
``verify`` and ``sign`` run (:func:`use_payload_checkers`).  Everything beyond
typer is imported inside the commands.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
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
        help="Directory of the parties' public keys (<party>.pub; private keys are not read): "
        "a keyring in which every party must sign.",
        show_default=False,
    ),
]
KeyringOption = Annotated[
    Path | None,
    typer.Option(
        "--keyring",
        help="Your keyring (TOML from `gridhash ledger keyring`): the parties' public keys and "
        "the signing rule. Signatures are checked against it alone.",
        show_default=False,
    ),
]

PayloadCheckers = Callable[[], Mapping[str, Any]]
_payload_checkers: PayloadCheckers | None = None


def use_payload_checkers(factory: PayloadCheckers | None) -> None:
    """Hand in the payload checkers ``verify`` and ``sign`` run (the ledger knows no payloads).

    The main CLI passes settlement's checkers; ``factory`` is called only when a
    command verifies, so registering it imports nothing.
    """
    global _payload_checkers
    _payload_checkers = factory


def _checkers() -> Mapping[str, Any]:
    return {} if _payload_checkers is None else _payload_checkers()


def _keyring(keyring: Path | None, keys: Path | None, *, required: bool = True) -> Any:
    """The verifier's keyring from --keyring or --keys (exit 2 when neither is given)."""
    from gridhash.ledger.errors import KeyFileError
    from gridhash.ledger.keyring import Keyring

    if keyring is not None and keys is not None:
        raise KeyFileError(
            "give --keyring or --keys, not both", expected="one trust root", source=str(keyring)
        )
    if keyring is not None:
        return Keyring.load(keyring)
    if keys is not None:
        return Keyring.from_dir(keys)
    if required:
        raise KeyFileError(
            "no keyring given: a verifier trusts only its own keyring, never keys in the ledger",
            field="--keyring",
            expected="--keyring FILE (from `gridhash ledger keyring`) or --keys DIR of .pub files",
        )
    return None


def _console(stderr: bool = False) -> Any:
    """The CLI's console (:func:`gridhash.console.console`): control characters in ledger
    text (party names, payloads, file names) shown as escapes, tables never cut."""
    from gridhash.console import console

    return console(stderr)


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


def _print_report(console: Any, report: VerifyReport, source: str) -> None:
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
        rows.append(("tree heads", "none signed"))
    else:
        signers = ", ".join(s.party for s in head.signatures) or "nobody"
        rows.append(
            (
                "tree heads",
                f"{report.tree_heads:,} (latest: size {head.size:,}, root "
                f"{_short_hex(head.root)}, {head.timestamp}, signed by {_esc(signers)})",
            )
        )
    ring = report.keyring
    if ring is not None:
        rows.append(("keyring", f"{_esc(source)}: {_esc(ring.describe_rule())}"))
    rows.append(
        ("signatures", f"{report.signatures_checked:,} checked against the keyring only")
    )
    rows.append(("complete", f"entries 0..{report.complete_size - 1:,} covered by a head "
                             "meeting the rule" if report.complete_size else "no complete head"))
    if report.pending:
        rows.append(("pending", f"the latest head still needs {_esc(', '.join(report.pending))}"))
    rows.append(
        ("interior nodes", f"{report.nodes_checked:,} stored, each equal to its recomputation")
    )
    rows.append(
        ("consistency", f"{report.consistency_checked:,} successive tree head pairs proven")
    )
    cp = report.checkpoint
    if cp is not None:
        proven = "consistency proven" if report.checkpoint_proven else "same root at its size"
        rows.append(("checkpoint", f"size {cp.size:,}, root {_short_hex(cp.root)}: "
                                   f"{proven if report.ok else 'see above'}"))
    if report.unsigned:
        rows.append(("unsigned tail", f"{report.unsigned:,} entries after size "
                                      f"{report.complete_size:,}"))
    if report.checked:
        rows.append(("payloads", ", ".join(f"{n:,} {k}" for k, n in report.checked.items())))
    rows.append(("time", f"{report.seconds:.2f} s"))
    console.print(_grid(rows))


@ledger_app.command()
def verify(
    path: Annotated[Path, typer.Argument(help="The ledger file.")],
    keyring: KeyringOption = None,
    keys: KeysOption = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            help="A checkpoint you saved earlier (`gridhash ledger checkpoint`): the ledger must "
            "extend it (catches rollback, fork, rewrite).",
            show_default=False,
        ),
    ] = None,
    allow_unsigned_tail: Annotated[
        bool,
        typer.Option(
            "--allow-unsigned-tail",
            help="Accept entries not yet covered by a head meeting the rule.",
        ),
    ] = False,
) -> None:
    """Recompute every hash, root, signature and payload against YOUR keyring; exit 1 if any
    differs, if an entry is not covered by a complete signed head, or if the ledger does not
    extend your checkpoint."""
    from gridhash.ledger.verify import verify_ledger

    ring = _keyring(keyring, keys)
    cp = _load_checkpoint(checkpoint) if checkpoint is not None else None
    report = verify_ledger(
        path, ring, _checkers(), checkpoint=cp, allow_unsigned_tail=allow_unsigned_tail
    )
    _print_report(_console(), report, str(keyring or keys))
    if not report.ok:
        raise typer.Exit(1)


def _load_checkpoint(path: Path) -> Any:
    from gridhash.ledger.errors import BundleError
    from gridhash.ledger.note import Checkpoint

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleError(f"cannot read checkpoint: {exc}", source=str(path)) from None
    return Checkpoint.parse(text, source=str(path))


@ledger_app.command()
def checkpoint(
    path: Annotated[Path, typer.Argument(help="The ledger file.")],
    keyring: KeyringOption = None,
    keys: KeysOption = None,
) -> None:
    """Print the latest signed head as a C2SP checkpoint (a signed note); save it to check
    later that the ledger only grew (`ledger verify --checkpoint`). With a keyring: the latest
    head meeting its rule."""
    from gridhash.ledger.store import Ledger

    ring = _keyring(keyring, keys, required=False)
    with Ledger.open(path, readonly=True) as ledger:
        head = ledger.checkpoint_head(ring)  # ProofError (exit 1) if its root is not the entries'
    sys.stdout.write(head.checkpoint().render())


@ledger_app.command()
def proof(
    path: Annotated[Path, typer.Argument(help="The ledger file.")],
    entry: Annotated[int, typer.Argument(help="The entry's sequence number (0-based).")],
    keyring: KeyringOption = None,
    keys: KeysOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the proof bundle as JSON (to save and send).")
    ] = False,
    size: Annotated[
        int | None,
        typer.Option(
            "--size",
            help="Use the signed tree head of this size [default: the latest]; refused (exit 1) "
            "when the entries no longer hash to its root.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Print the inclusion proof of an entry under a signed tree head, for anyone to check."""
    from gridhash.ledger.signing import fingerprint
    from gridhash.ledger.store import Ledger

    ring = _keyring(keyring, keys, required=False)
    with Ledger.open(path, readonly=True) as ledger:
        bundle = ledger.proof_bundle(entry, size)  # ProofError (exit 1) on a root mismatch
    if ring is not None:
        bundle.check(ring)  # ProofError: exit 1
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
    if ring is not None:
        rows.append(("checked", f"[green]✓[/green] against {_esc(keyring or keys)}"))
    console.print(_grid(rows))
    console.print("[dim]--json prints this bundle for `gridhash ledger check-proof`[/dim]")


@ledger_app.command("check-proof")
def check_proof(
    file: Annotated[Path, typer.Argument(help="A proof bundle (from `ledger proof --json`).")],
    key: Annotated[
        list[Path] | None,
        typer.Option(
            "--key",
            help="A party's public key file (PEM); repeat for each party whose signature "
            "the tree head must carry.",
            show_default=False,
        ),
    ] = None,
    keyring: KeyringOption = None,
) -> None:
    """Check a saved proof bundle alone: entry → leaf hash → audit path → signed root."""
    from gridhash.ledger.bundle import ProofBundle
    from gridhash.ledger.errors import KeyFileError, ProofError
    from gridhash.ledger.keyring import Keyring
    from gridhash.ledger.signing import load_public_key

    if keyring is not None and key:
        raise KeyFileError("give --keyring or --key, not both", field="--key",
                           expected="one trust root")
    if keyring is not None:
        ring = Keyring.load(keyring)
    elif key:
        ring = Keyring.of([load_public_key(k) for k in key])
    else:
        raise KeyFileError("no keys given: a proof is only as good as who signed it",
                           field="--keyring", expected="--keyring FILE or --key PARTY.pub ...")
    bundle = ProofBundle.load(file)
    console = _console()
    try:
        bundle.check(ring)
    except ProofError as exc:
        console.print(f"[bold red]✗[/bold red] {_esc(file)}: {_esc(exc)}", soft_wrap=True)
        raise typer.Exit(1) from None
    head = bundle.tree_head
    valid = ring.check_head(head).valid
    signers = ", ".join(f"{_esc(p)} (key {ring.keys[p].fingerprint})" for p in valid)
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
    key: Annotated[
        Path, typer.Option("--key", help="YOUR private key file (<party>.key); only yours.")
    ],
    keyring: KeyringOption = None,
    keys: KeysOption = None,
) -> None:
    """Verify the ledger against your keyring, then countersign its latest head with your key.

    When the latest head covers every entry, your signature is added to it;
    otherwise a new head over everything is signed.  Nothing is signed when
    verification finds a discrepancy (exit 1).  The head is complete when the
    keyring's rule is met.
    """
    from gridhash.ledger.errors import KeyFileError
    from gridhash.ledger.signing import load_private_key
    from gridhash.ledger.store import Ledger
    from gridhash.ledger.verify import verify_ledger

    ring = _keyring(keyring, keys)
    private = load_private_key(key)
    known = ring.keys.get(private.party)
    if known is None or known.raw != private.public.raw:
        raise KeyFileError(
            "this key is not its party's key in the keyring",
            source=str(key),
            value=f"{private.party} {private.public.fingerprint}",
            expected="a key whose party and fingerprint the keyring lists: "
            + ", ".join(f"{p} {k.fingerprint}" for p, k in ring.keys.items()),
        )
    report = verify_ledger(path, ring, _checkers(), allow_unsigned_tail=True)
    console = _console()
    if not report.ok:
        _print_report(console, report, str(keyring or keys))
        console.print("[bold red]not signed[/bold red]: the ledger does not verify")
        raise typer.Exit(1)
    with Ledger.open(path) as ledger:
        latest = ledger.head()
        if latest is not None and latest.size == ledger.size:
            if latest.signature_by(private.party):
                head, action = latest, "already signed"
            else:
                head = ledger.cosign(private, latest.index)
                action = "countersigned"
        else:
            head = ledger.sign_head(private)
            action = "signed"
    check = ring.check_head(head)
    state = (
        "[green]complete[/green]"
        if check.complete
        else f"still needs {_esc(', '.join(check.missing))}"
    )
    console.print(
        f"{action} tree head {head.index} (size {head.size:,}, root {_short_hex(head.root)}) "
        f"as {_esc(private.party)}; signed by {_esc(', '.join(check.valid))}: {state}",
        soft_wrap=True,
    )


@ledger_app.command("keyring")
def keyring_command(
    sources: Annotated[
        list[Path],
        typer.Argument(help="The parties' .pub files (or directories of them).",
                       show_default=False),
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the keyring here [default: print it].",
                     show_default=False),
    ] = None,
    require: Annotated[
        list[str] | None,
        typer.Option("--require", help="A party that must sign every head (repeat) "
                     "[default: every party].", show_default=False),
    ] = None,
    threshold: Annotated[
        int | None,
        typer.Option("--threshold", help="Valid signatures a head needs in all "
                     "[default: every party, or the required ones].", show_default=False),
    ] = None,
) -> None:
    """Build a keyring from the parties' public keys: your trust root; exchange it out of band
    and compare the fingerprints it prints with each party."""
    from gridhash.ledger.errors import KeyFileError
    from gridhash.ledger.keyring import Keyring
    from gridhash.ledger.signing import PUBLIC_SUFFIX, load_public_key

    keys = []
    for src in sources:
        if src.is_dir():
            keys += [load_public_key(p) for p in sorted(src.glob(f"*{PUBLIC_SUFFIX}"))]
        elif src.name.endswith(PUBLIC_SUFFIX):
            keys.append(load_public_key(src))
        else:
            raise KeyFileError("not a public key file", source=str(src),
                               expected=f"<party>{PUBLIC_SUFFIX} (never a private key)")
    parties = [k.party for k in keys]
    if len(set(parties)) != len(parties):
        raise KeyFileError("a party appears twice", value=", ".join(sorted(parties)),
                           expected="one public key per party")
    if not keys:
        raise KeyFileError("no public keys given", expected=f"<party>{PUBLIC_SUFFIX} files")
    ring = Keyring.of(keys, required=require, threshold=threshold)
    if out is None:
        sys.stdout.write(ring.to_toml())
        return
    ring.save(out)
    console = _console()
    console.print(f"wrote {_esc(out)}: {_esc(ring.describe_rule())}")
    for party, k in ring.keys.items():
        console.print(f"  {_esc(party):20} fingerprint {k.fingerprint}")


@ledger_app.command("witness")
def witness_command(
    ledger: Annotated[
        str, typer.Option("--ledger", help="The ledger file, or the service's base URL.")
    ],
    state: Annotated[Path, typer.Option("--state", help="This witness's state directory.")],
    key: Annotated[
        Path | None,
        typer.Option("--key", help="The witness's private key (`gridhash ledger keygen`).",
                     show_default=False),
    ] = None,
    keyring: KeyringOption = None,
    keys: KeysOption = None,
    compare: Annotated[
        Path | None,
        typer.Option("--compare", help="Another witness's state directory: detect a split "
                     "view between what the two were shown.", show_default=False),
    ] = None,
) -> None:
    """Check the ledger's latest checkpoint against every one this witness has seen, cosign
    it when consistent; exit 1 with an alarm naming both roots on rollback or fork."""
    from gridhash.ledger.errors import KeyFileError
    from gridhash.ledger.signing import load_private_key
    from gridhash.ledger.witness import compare_states, open_source, witness

    ring = _keyring(keyring, keys, required=False)
    source = open_source(ledger, ring)
    console = _console()
    if compare is not None:
        for line in compare_states(state, compare, source):
            console.print(f"  {_esc(line)}")
        console.print(f"[bold green]✓[/bold green] no split view between {_esc(state)} and "
                      f"{_esc(compare)}")
        return
    if key is None:
        raise KeyFileError("the witness needs its key to cosign", field="--key",
                           expected="the witness's <name>.key")
    result = witness(source, state, load_private_key(key), ring)
    cp = result.checkpoint
    what = {"first": "first checkpoint seen", "unchanged": "unchanged since last run",
            "extended": f"consistent with size {result.previous.size if result.previous else 0:,}"}
    console.print(
        f"[bold green]✓[/bold green] cosigned size {cp.size:,} root {_short_hex(cp.root)} "
        f"({what[result.action]}); stored in {_esc(state / 'checkpoints')}",
        soft_wrap=True,
    )
