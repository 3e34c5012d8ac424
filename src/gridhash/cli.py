"""The `gridhash` command line (typer + rich).

Heavy modules (numpy, pandas, HiGHS, plotly, PyPSA) are imported inside the
commands that need them, so `gridhash --help` starts fast.  Any
:class:`gridhash.errors.GridhashError` becomes a one-paragraph message on
stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    name="gridhash",
    help=(
        "Plan, run and settle a power plant whose output is shared between the grid "
        "and Bitcoin mining."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

ScenarioArg = Annotated[
    str | None,
    typer.Argument(
        help="Scenario TOML file or built-in name (see `gridhash scenarios`); default znpp.",
        show_default=False,
    ),
]


class Solver(StrEnum):
    """``gridhash run --solver`` (:data:`gridhash.pipeline.SOLVERS`)."""

    fast = "fast"
    lp = "lp"


ScenarioLineCutsOpt = Annotated[
    bool,
    typer.Option("--scenario-line-cuts",
                 help="Keep the scenario's own line cuts on top of the sampled ones (by "
                 "default the sampled cuts replace them where the paths sample line cuts, "
                 "so that the same record is not counted twice)."),
]


def _console(stderr: bool = False) -> Any:
    """The terminal console every command prints through (:func:`gridhash.console.console`)."""
    from gridhash.console import console

    return console(stderr)


def _finite(value: Any) -> Any:
    """Refuse NaN (which passes click's range checks) in a float option or its list."""
    import math

    for v in value if isinstance(value, list) else [value]:
        if v is not None and not math.isfinite(v):
            raise typer.BadParameter(f"{v} is not a finite number")
    return value


@app.command()
def scenarios() -> None:
    """List the built-in scenarios, one line each."""
    from gridhash.scenario import builtin_names, load_scenario

    console = _console()
    for name in builtin_names():
        sc = load_scenario(name).scenario
        console.print(f"[bold]{name:<12}[/bold] {sc.description}", soft_wrap=True)


@app.command()
def show(name: Annotated[str, typer.Argument(help="Built-in scenario name.")]) -> None:
    """Print a built-in scenario as TOML, to copy and edit."""
    from gridhash.scenario import builtin_text

    sys.stdout.write(builtin_text(name))


@app.command()
def run(
    scenario: ScenarioArg = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder [default: out/<scenario>/]."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print summary.json to stdout instead of a table.")
    ] = False,
    csv: Annotated[bool, typer.Option("--csv", help="Also write hourly.csv.")] = False,
    agreement: Annotated[
        str | None,
        typer.Option("--agreement", help="Plan under this agreement's obligations and prices."),
    ] = None,
    solver: Annotated[
        Solver,
        typer.Option("--solver",
                     help="fast: the merit order of each hour, certified optimal by the ramp "
                     "rows or repaired by exact LP windows (the risk sweep's dispatch); lp: "
                     "the whole year as one HiGHS LP. Same optimum and marginal values."),
    ] = Solver.fast,
) -> None:
    """Plan the scenario's hours optimally and report what it earns, delivers and costs."""
    from gridhash.pipeline import STEPS, run_scenario
    from gridhash.report.write import json_text, write_outputs

    labels = {
        "load": "Loading scenario",
        "resolve": "Resolving series",
        "safety": "Safety envelope",
        "economics": "Pricing mining",
        "dispatch": "Optimising dispatch" + (" (HiGHS)" if solver is Solver.lp else ""),
        "accounts": "Adding up the accounts",
        "report": "Writing report",
    }
    with _steps(len(STEPS) + 1) as show:

        def step(name: str) -> None:
            show(labels[name], STEPS.index(name))

        result = run_scenario(scenario, progress=step, agreement=agreement,
                              solver=solver.value)
        show(labels["report"], len(STEPS))
        folder = out or Path("out") / result.name
        summary = write_outputs(result, folder, csv=csv)
        show(labels["report"], len(STEPS) + 1)

    _print_warnings(summary["warnings"])
    if as_json:
        sys.stdout.write(json_text(summary, what="the summary"))
        return
    from gridhash.report.terminal import print_summary

    files = ["summary.json", "hourly.parquet", *(["hourly.csv"] if csv else []), "report.html"]
    print_summary(_console(), summary, folder, files=files)


@app.command()
def safety(
    scenario: ScenarioArg = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the timeline as JSON instead of tables.")
    ] = False,
) -> None:
    """The safety envelope: plant state, rules, and the timeline of events and limits.

    Shows the conditions, rule activations, mode changes and mining permission
    hour by hour; no dispatch is run.
    """
    from gridhash.safety import envelope_for
    from gridhash.scenario.load import load_scenario
    from gridhash.scenario.resolve import resolve

    loaded = load_scenario(scenario)
    env = envelope_for(loaded, resolve(loaded))
    if env is None:
        _console().print(
            f"{loaded.name}: no safety part; the dispatch is limited only by the plant and "
            "grid (add a \\[safety] table, see docs/safety.md)"
        )
        return
    if as_json:
        from gridhash.report.safety import offsite_power_figures, timeline
        from gridhash.scenario.series import hour_stamp

        rows = [
            {"from": hour_stamp(env.index, e.start), "to": hour_stamp(env.index, e.end),
             "what": e.what, "text": e.text}
            for e in timeline(env)
        ]
        doc = {"scenario": loaded.name, "rule_activations": env.rule_activations(),
               "hours_restricted": int(env.restricted.sum()),
               "hours_mining_blocked": int((~env.mining_allowed).sum()),
               **offsite_power_figures(env), "timeline": rows}
        from gridhash.report.write import json_text

        sys.stdout.write(json_text(doc, what="the safety timeline"))
        return
    from gridhash.report.safety import print_safety

    print_safety(env, _console(), source=loaded.source or "")


@app.command()
def compare(
    scenario: ScenarioArg = None,
    agreement: Annotated[
        list[str] | None,
        typer.Option("--agreement", metavar="NAME",
                     help="An agreement to compare (repeat) [default: all]."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
) -> None:
    """Run each agreement and show them side by side: grid, deficit, BTC, money per party."""
    from gridhash.report.compare import compare_agreements, print_comparison
    from gridhash.scenario.load import load_scenario

    loaded = load_scenario(scenario)
    names = agreement or [a.name for a in loaded.scenario.agreements]
    if not names:
        from gridhash.errors import ScenarioError

        raise ScenarioError("the scenario has no agreements to compare", source=loaded.source,
                            field="agreements", expected="[[agreements]] tables")
    rows = compare_agreements(loaded, names, progress=_progress_callback(len(names)))
    if as_json:
        from gridhash.report.write import json_text

        sys.stdout.write(json_text(rows, what="the comparison"))
        return
    print_comparison(_console(), loaded.name, rows)


@app.command()
def settle(
    scenario: ScenarioArg = None,
    agreement: Annotated[
        str | None, typer.Option("--agreement", help="The agreement [default: the first].")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder [default: out/<scenario>/].")
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option("--key", help="YOUR private key (<party>.key): statements and the head are "
                     "signed as that party only; the others countersign with `gridhash ledger "
                     "sign`.", show_default=False),
    ] = None,
    keyring: Annotated[
        Path | None,
        typer.Option("--keyring", help="Your keyring (`gridhash ledger keyring`): the parties' "
                     "public keys recorded in the agreement entry.", show_default=False),
    ] = None,
    demo_keys: Annotated[
        Path | None,
        typer.Option("--demo-keys", help="DEMO ONLY: create/use EVERY party's key in this "
                     "folder and sign as all of them.", show_default=False),
    ] = None,
) -> None:
    """Settle: statements per party and period (cents, satoshis), signed, on the ledger."""
    from gridhash.errors import InputError
    from gridhash.ledger.keyring import Keyring
    from gridhash.ledger.signing import load_private_key
    from gridhash.pipeline import run_scenario
    from gridhash.report.summary import summary
    from gridhash.scenario.load import load_scenario
    from gridhash.scenario.resolve_agreement import find_agreement
    from gridhash.settlement.record import demo_keys as make_demo_keys
    from gridhash.settlement.record import write_settlement

    if (key is None) == (demo_keys is None):
        raise InputError(
            "choose how to sign", field="--key",
            expected="--key YOUR.key --keyring KEYRING (each party holds only its own key), "
            "or --demo-keys DIR to try gridhash out with every party's key in one folder")
    if key is not None and keyring is None:
        raise InputError("--key needs --keyring", field="--keyring",
                         expected="your keyring file (`gridhash ledger keyring`)")
    loaded = load_scenario(scenario)
    found = find_agreement(loaded, agreement)[1]
    err = _console(stderr=True)
    if demo_keys is not None:
        signers = make_demo_keys(found, demo_keys)
        ring = Keyring.of([k.public for k in signers.values()], source=str(demo_keys))
        err.print(f"[bold yellow]DEMO KEYS:[/bold yellow] {demo_keys} holds the private key of "
                  f"every party ({', '.join(signers)}); whoever holds it can sign as all of "
                  "them. Use --key YOUR.key --keyring KEYRING for real settlements.",
                  soft_wrap=True)
    else:
        assert key is not None and keyring is not None
        own = load_private_key(key)
        signers = {own.party: own}
        ring = Keyring.load(keyring)
    with err.status(f"planning {loaded.name} under {found.name}", spinner="dots"):
        run = run_scenario(loaded, agreement=found.name)
    folder = out or Path("out") / run.name
    from gridhash.report.advice import warnings_for

    _print_warnings(warnings_for(run))
    with err.status("settling, signing, appending to the ledger", spinner="dots"):
        res = write_settlement(run, folder, signers, ring, summary(run))
    res["keys"] = demo_keys if demo_keys is not None else key
    from gridhash.report.compare import print_settlement

    console = _console()
    print_settlement(console, run, res, folder)
    trust = f"--keys {demo_keys}" if demo_keys is not None else f"--keyring {keyring}"
    if res["pending"]:
        console.print(
            f"head signed by {', '.join(res['signed_by'])}; waiting for "
            f"{', '.join(res['pending'])}: each verifies and countersigns on its own machine "
            f"with `gridhash ledger sign {res['ledger']} --key THEIR.key --keyring KEYRING`",
            markup=False)
    else:
        console.print(f"check it: gridhash ledger verify {res['ledger']} {trust}", markup=False)


@app.command()
def risk(
    scenario: ScenarioArg = None,
    paths: Annotated[int, typer.Option("--paths", min=1, help="Number of futures.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Master seed.")] = 0,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="Run on a local Dask cluster of K processes."),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="Run on an existing Dask cluster (tcp://HOST:PORT)."),
    ] = None,
    agreement: Annotated[
        str | None, typer.Option("--agreement", help="Plan and split under this agreement.")
    ] = None,
    chunk: Annotated[
        int | None,
        typer.Option("--chunk", min=1, help="Paths per task [default: 100, fewer for small "
                     "sweeps]."),
    ] = None,
    scenario_line_cuts: ScenarioLineCutsOpt = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder [default: out/<scenario>/].")
    ] = None,
    model: Annotated[
        Path | None, typer.Option("--model", help="A risk-model.toml from `gridhash "
                                  "calibrate`: its fits replace the default models.")
    ] = None,
) -> None:
    """Thousands of futures: distributions, VaR/CVaR at 5 %, chance that mining loses money."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from gridhash.report.risk import print_risk, write_risk
    from gridhash.risk.allocator import tune_allocator
    from gridhash.risk.sweep import summarise, sweep
    from gridhash.scenario.load import load_scenario

    if workers is not None and scheduler is not None:
        raise typer.BadParameter("give --workers or --scheduler, not both")
    loaded = load_scenario(scenario)
    if agreement is not None:
        from gridhash.scenario.resolve_agreement import find_agreement

        find_agreement(loaded, agreement)
    fitted = None
    if model is not None:
        from gridhash.risk.models.fitted import load_fitted

        fitted = load_fitted(model)  # a bad file fails here, before any work
    if workers is None and scheduler is None:
        tune_allocator()  # this process runs the chunks
    else:
        import warnings

        # Dask's scheduler serves its HTTP endpoints on another port when 8787 is
        # taken (another cluster on the machine) and says so; the sweep uses none.
        warnings.filterwarnings("ignore", message=r"Port \d+ is already in use",
                                category=UserWarning)
    err = _console(stderr=True)
    with Progress("{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("paths", total=paths)
        try:
            df = sweep(loaded, paths, seed=seed, agreement=agreement, chunk_size=chunk,
                       workers=workers, scheduler=scheduler,
                       scenario_line_cuts=scenario_line_cuts,
                       model_file=None if model is None else str(model.resolve()),
                       progress=lambda n: bar.update(task, advance=n))
        except KeyboardInterrupt:
            raise Interrupted("interrupted; nothing written") from None
    summary = summarise(df) | {"scenario": loaded.name, "seed": seed, "agreement": agreement,
                               "scenario_line_cuts": scenario_line_cuts,
                               "risk_model": None if fitted is None else fitted.record()}
    folder = out or Path("out") / loaded.name
    write_risk(folder, loaded.name, df, summary)
    print_risk(_console(), loaded.name, summary, folder)


@app.command()
def size(
    scenario: ScenarioArg = None,
    model: Annotated[
        list[str] | None,
        typer.Option("--model", metavar="MODEL", help="ASIC model to consider (repeat); "
                     "default: the 3 most efficient in the catalogue."),
    ] = None,
    mw: Annotated[
        list[float] | None,
        typer.Option("--mw", metavar="MW", min=0.0, max=1e6, callback=_finite,
                     help="Fleet size to consider, MW (repeat); "
                     "default: 6 steps up to the sites' capacity."),
    ] = None,
    paths: Annotated[int, typer.Option("--paths", min=1, help="Futures per candidate.")] = 50,
    seed: Annotated[
        int, typer.Option("--seed", min=0, help="Master seed of the sampled futures (the same "
                          "seed gives the same futures for every candidate).")
    ] = 0,
    quantile: Annotated[
        float | None,
        typer.Option("--quantile", min=0.0, max=1.0,
                     help="Maximise this quantile of NPV instead of its mean."),
    ] = None,
    agreement: Annotated[
        str | None,
        typer.Option("--agreement", help="Plan and split each future under this agreement "
                     "[default: none: the scenario's own prices and obligations]."),
    ] = None,
    scenario_line_cuts: ScenarioLineCutsOpt = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder [default: out/<scenario>/].")
    ] = None,
) -> None:
    """Choose the ASIC model and MW to buy: NPV over stochastic futures, against size."""
    from rich.table import Table

    from gridhash.files import atomic_write_text
    from gridhash.report.write import json_text
    from gridhash.risk.allocator import tune_allocator
    from gridhash.risk.sizing import render_size_html, size_candidates, size_fleet
    from gridhash.scenario.load import load_scenario
    from gridhash.scenario.resolve import resolve

    loaded = load_scenario(scenario)
    models = size_candidates(loaded, model)
    if mw:
        levels = sorted(set(mw))
    else:
        top = float(resolve(loaded).site_capacity_mw.sum(axis=0).max())
        levels = [round(top * k / 5, 1) for k in range(6)]
    tune_allocator()  # the sweeps run in this process
    err = _console(stderr=True)
    with err.status("sizing the fleet", spinner="dots") as status:
        result = size_fleet(loaded, models=models, mw_levels=levels, paths=paths, seed=seed,
                            agreement=agreement, quantile=quantile,
                            scenario_line_cuts=scenario_line_cuts,
                            progress=lambda label: status.update(f"sizing: {label}"))
    folder = out or Path("out") / loaded.name
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "size.json", json_text(result, what="size.json"))
    atomic_write_text(folder / "size.html", render_size_html(loaded.name, result))
    t = Table(title=f"gridhash size · {loaded.name} · {paths} paths · {result['criterion']}")
    for col in ("model", "MW", "machines", "capex [M USD]", "NPV mean", "NPV 5 %", "NPV 95 %",
                "breakeven USD/MWh", "breakeven hashprice USD/PH/day", "breakeven BTC USD"):
        t.add_column(col, justify="left" if col == "model" else "right", no_wrap=col == "model")

    def opt(x: float | None, digits: int) -> str:
        return "–" if x is None else f"{x:,.{digits}f}"

    for r in result["candidates"]:
        t.add_row(r["model"], f"{r['mw']:,.0f}", f"{r['machines']:,}",
                  f"{r['capex_usd'] / 1e6:,.1f}", f"{r['npv_mean_usd'] / 1e6:,.1f}",
                  f"{r['npv_p5_usd'] / 1e6:,.1f}", f"{r['npv_p95_usd'] / 1e6:,.1f}",
                  opt(r["breakeven_power_usd_per_mwh"], 1),
                  opt(r["breakeven_hashprice_usd_per_ph_day"], 1),
                  opt(r["breakeven_btc_usd"], 0))
    console = _console()
    console.print(t)
    console.print(f"best: [bold]{result['choice']}[/bold]; NPV over "
                  f"{result['lifetime_years']} years at {result['discount_rate']:.0%}, resale "
                  f"{result['resale_fraction']:.0%}, power: {result['power_price_basis']}. "
                  f"Wrote {folder / 'size.json'} and {folder / 'size.html'}")


@app.command()
def economics(
    scenario: ScenarioArg = None,
    catalogue: Annotated[
        bool, typer.Option("--catalogue", help="List every ASIC model in the catalogue.")
    ] = False,
    power_price: Annotated[
        float | None,
        typer.Option(
            "--power-price",
            min=-1e6,
            max=1e6,
            callback=_finite,
            help="Power price the fleet pays [USD/MWh]; default: the agreement's (with "
            "--agreement), else the value of power at the plant in the hours the dispatch "
            "mines (the marginal value of a MW, weighted by the MWh drawn).",
        ),
    ] = None,
    agreement: Annotated[
        str | None,
        typer.Option("--agreement", help="Run under this agreement: its power price and its "
                     "dispatch rules."),
    ] = None,
) -> None:
    """Each ASIC model's value over its life as the dispatch runs it: NPV, payback and
    break-even power price, hashprice and BTC price (the valuation `size` uses)."""
    from gridhash.report.terminal import print_economics

    print_economics(_console(), scenario, catalogue=catalogue, power_price=power_price,
                    agreement=agreement)


@app.command()
def export(
    scenario: ScenarioArg = None,
    pypsa: Annotated[
        Path, typer.Option("--pypsa", help="Write the problem as a PyPSA network (.nc).")
    ] = Path("network.nc"),
) -> None:
    """Export the scenario's dispatch problem as a PyPSA network for energy modellers."""
    from gridhash.export.pypsa import export_netcdf

    path = export_netcdf(scenario, pypsa)
    _console().print(f"wrote PyPSA network to {path}")


from gridhash.ledger.cli import ledger_app, use_payload_checkers  # noqa: E402  (typer only)


def _settlement_checkers() -> Any:
    """Settlement's payload checkers, handed to the ledger (which knows no payloads)."""
    from gridhash.settlement.record import CHECKERS

    return CHECKERS


use_payload_checkers(_settlement_checkers)
app.add_typer(ledger_app, name="ledger")

from gridhash.service.cli import serve_command  # noqa: E402  (typer only; the service loads lazily)

app.command("serve")(serve_command)

from gridhash.feeds.cli import fetch_app  # noqa: E402  (typer only; fetchers load lazily)

app.add_typer(fetch_app, name="fetch")

from gridhash.history.cli import backtest_command, calibrate_command  # noqa: E402  (typer only)

app.command("backtest")(backtest_command)
app.command("calibrate")(calibrate_command)

from gridhash.agent.cli import agent_command  # noqa: E402  (typer only; pyasic loads lazily)

app.command("agent")(agent_command)


def _print_warnings(warnings: list[str]) -> None:
    """Each warning on stderr, one paragraph each, after any progress display is gone."""
    from rich.markup import escape

    err = _console(stderr=True)
    for text in warnings:
        err.print(f"[bold yellow]warning:[/bold yellow] {escape(text)}", soft_wrap=True)


@contextlib.contextmanager
def _steps(total: int) -> Iterator[Callable[[str, int], None]]:
    """A transient bar of ``total`` steps on stderr, only on a terminal (rich's progress
    display is not even imported otherwise); yields ``show(label, completed)``."""
    err = _console(stderr=True)
    if not err.is_terminal:
        yield lambda label, completed: None
        return
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                  console=err, transient=True) as progress:
        task = progress.add_task("Starting", total=total)
        yield lambda label, completed: progress.update(task, description=label,
                                                       completed=completed)


def _progress_callback(total: int) -> Any:
    """A rich progress bar on stderr (only on a terminal); returns ``advance(label)``."""
    from rich.progress import Progress

    err = _console(stderr=True)
    progress = Progress(console=err, transient=True, disable=not err.is_terminal)
    task = progress.add_task("", total=total)

    def advance(label: str, done: bool = False) -> None:
        from rich.markup import escape

        from gridhash.errors import printable

        if not progress.live.is_started:
            progress.start()
        progress.update(task, description=escape(printable(label)), advance=1 if done else 0)
        if done and progress.tasks[0].finished:
            progress.stop()

    return advance


class Interrupted(Exception):  # noqa: N818  (not an error: the user asked)
    """Ctrl-C, caught where the command knows what it had (not) written."""


def main() -> None:
    """Console entry point: run the app, turning gridhash errors into exit code 2."""
    from gridhash.errors import GridhashError

    try:
        app()  # click handles its own usage errors (exit 2) and --help
    except Interrupted as exc:
        _console(stderr=True).print(str(exc), markup=False)
        raise SystemExit(130) from None
    except KeyboardInterrupt:  # a command without its own word on what it had written
        _console(stderr=True).print("interrupted", markup=False)
        raise SystemExit(130) from None
    except GridhashError as exc:
        from rich.markup import escape

        _console(stderr=True).print(
            f"[bold red]error:[/bold red] {escape(str(exc))}", soft_wrap=True
        )
        raise SystemExit(exc.exit_code) from None


def entry() -> None:
    """The ``gridhash`` console script: :func:`main` in a process of its own, with the
    cycle collector tuned for a short command (tests call :func:`main` in-process).

    Collections come every 200,000 allocations, as in mypy (``gc.set_threshold(200 *
    1000, 30, 30)``, mypy/main.py): a command's imports and arrays allocate hundreds of
    thousands of objects, few of them in cycles.  At exit (``atexit``: after every
    handler registered later, such as Dask's) what is left is frozen, so the final
    collection does not walk it; the operating system frees the memory.  CPython's
    defaults spent about a fifth of ``gridhash run``'s CPU time collecting
    (benchmarks/README.md).
    """
    if sys.implementation.name == "cpython":
        import atexit
        import gc

        gc.set_threshold(200_000, 30, 30)
        atexit.register(gc.freeze)
    main()


if __name__ == "__main__":  # pragma: no cover
    entry()
