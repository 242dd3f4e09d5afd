"""Typer app, output helpers and error handling shared by every command."""

from __future__ import annotations

import json
import math
import os
import sys
import warnings
from contextlib import contextmanager

import numpy as np
import typer
from rich.console import Console

from .. import __version__
from ..errors import BayesUnlearnError

EXIT_CODES = {
    0: "success",
    1: "unexpected internal error",
    2: "bad input data or bad command-line usage",
    3: "a request that cannot be honoured (unknown/duplicate row ids, forgetting every row, …)",
    4: "missing, corrupted, foreign or incompatible model directory",
}

app = typer.Typer(
    name="bayes-unlearn",
    help="Bayesian machine unlearning and model repair: fit a Bayesian model by MCMC, forget "
         "training rows without retraining, find the rows behind a model's failures.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

stdout = Console(highlight=False)
stderr = Console(stderr=True, highlight=False)
_state = {"quiet": False}


def _version(value: bool):
    if value:
        print(f"bayes-unlearn {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars or tables; errors and warnings only."),
):
    _state["quiet"] = quiet


def quiet() -> bool:
    return _state["quiet"]


def to_jsonable(obj):
    """Plain JSON types; NaN/inf become null so the output is strict JSON."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def emit_json(payload: dict) -> None:
    sys.stdout.write(json.dumps(to_jsonable(payload), allow_nan=False) + "\n")
    sys.stdout.flush()


@contextmanager
def command_guard(as_json: bool = False):
    """Turn user errors into one stderr line + exit code; collect warnings for the output.

    Yields a list that fills with the warning messages raised inside the block; they are
    printed to stderr as they would be, and commands add them to their JSON as ``warnings``.
    """
    caught: list[str] = []
    try:
        with warnings.catch_warnings(record=True) as records:
            warnings.simplefilter("always")
            warnings.filterwarnings("ignore", category=FutureWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            try:
                yield caught
            finally:
                for r in records:
                    msg = str(r.message)
                    if msg not in caught:
                        caught.append(msg)
    except BayesUnlearnError as exc:
        _print_warnings(caught)
        stderr.print(f"[bold red]error:[/] {exc}", markup=True, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        stderr.print("[red]interrupted[/]")
        raise typer.Exit(130) from None
    except Exception as exc:  # noqa: BLE001 - the contract is: no traceback dump
        if os.environ.get("BAYES_UNLEARN_DEBUG"):
            raise
        stderr.print(f"[bold red]internal error:[/] {type(exc).__name__}: {exc}\n"
                     "Set BAYES_UNLEARN_DEBUG=1 for the traceback and please report it.",
                     soft_wrap=True)
        raise typer.Exit(1) from None
    _print_warnings(caught)


def _print_warnings(messages: list[str]) -> None:
    for msg in messages:
        stderr.print(f"[bold yellow]warning:[/] {msg}", soft_wrap=True)


@contextmanager
def progress_bar(description: str, enabled: bool = True):
    """A Rich progress bar on stderr; yields a ``progress(done, total)`` callback (or None)."""
    if not enabled or quiet():
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=stderr, transient=True) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def parse_list(text: str | None) -> list[str]:
    if not text:
        return []
    return [t.strip() for t in text.split(",") if t.strip()]


QUIET_FLAGS = ("--quiet", "-q")


def hoist_quiet(argv: list[str]) -> list[str]:
    """Move --quiet/-q in front of the command, so `forget m --rows 3 -q` works like `-q forget …`.

    Typer only knows the flag as an option of the top-level callback. No command has an
    option that takes a value starting with "-q"; "--" ends the hoisting (a literal "-q" after it).
    """
    end = argv.index("--") if "--" in argv else len(argv)
    flags = [a for a in argv[:end] if a in QUIET_FLAGS]
    return flags[:1] + [a for a in argv[:end] if a not in QUIET_FLAGS] + argv[end:]


def main(argv: list[str] | None = None) -> None:
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if argv is not None:  # called from Python (tests): a normal return or SystemExit
        app(args=hoist_quiet(args), prog_name="bayes-unlearn")
        return
    code = 0
    try:
        app(args=hoist_quiet(args), prog_name="bayes-unlearn")
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        if not isinstance(done.code, int | None):
            print(done.code, file=sys.stderr)
    exit_now(code)


def exit_now(code: int) -> None:
    """End the console command without the interpreter's teardown once JAX is loaded.

    Tearing down JAX's CPU client (one XLA device per chain) took 0.3–0.4 s after every
    command that sampled. Everything a command writes is complete by now: model directories
    are written and renamed atomically, the export and compilation caches are written when
    a function is compiled, and the standard streams are flushed here.
    """
    import os
    import sys

    if "jax" not in sys.modules:
        sys.exit(code)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

