"""``bayes-unlearn demo``: the guided tour on the built-in breast-cancer data."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from .app import app, command_guard, emit_json, progress_bar, quiet, stderr, stdout


def step_table(step) -> Table:
    """A demo step as a Rich table: its rows, notes as caption, warnings in red."""
    from ..report import format_value

    table = Table(title=f"{step.title}  [dim]({step.seconds:.1f} s)[/]", title_justify="left")
    columns = list(step.rows[0]) if step.rows else []
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in step.rows:
        table.add_row(*[_cell(col, row.get(col), format_value) for col in columns])
    caption = list(step.notes) + [f"[bold yellow]warning:[/] {w}" for w in step.warnings]
    table.caption = "\n".join(caption)
    table.caption_justify = "left"
    return table


def _cell(column: str, value, format_value) -> str:
    text = format_value(value)
    if column == "reliable" and value is False:
        return f"[bold red]{text}[/]"
    return text


@app.command(epilog="Example: bayes-unlearn demo --out demo-output   (or --quick for a fast smoke run)")
def demo(
    out: Path = typer.Option(Path("demo-output"), "--out", "-o", help="Directory for the report and plots."),
    quick: bool = typer.Option(False, "--quick", help="Tiny draw counts (for CI): fast, rough numbers."),
    seed: int = typer.Option(0, help="Random seed of the splits, corruption and samplers."),
    as_json: bool = typer.Option(False, "--json", help="Print exactly one JSON object on stdout."),
):
    """Run the guided demo: fit, forget, verify, corrupt and repair; write a report with plots."""
    from ..demo import DemoSettings, run_demo

    with command_guard(as_json) as warns:
        settings = DemoSettings.quick(seed) if quick else DemoSettings(seed=seed)
        show = not (as_json or quiet())

        def on_step(step) -> None:
            if show:
                stdout.print(step_table(step))
                stdout.print()

        outcome = run_demo(out, settings, progress=lambda d: progress_bar(d, enabled=not as_json),
                           on_step=on_step)
        if as_json:
            emit_json({**outcome.to_dict(), "warnings": warns})
        elif not quiet():
            stdout.print(f"Demo finished in {outcome.seconds:.0f} s.")
            if outcome.report_html is not None:
                stdout.print(f"Report: {outcome.report_html} (and {outcome.report_markdown.name})")
        for step in outcome.steps:
            for w in step.warnings:
                if as_json or quiet():
                    stderr.print(f"[bold yellow]warning:[/] {step.key}: {w}", soft_wrap=True)
