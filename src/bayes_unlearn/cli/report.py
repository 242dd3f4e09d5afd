"""``bayes-unlearn report``: plots and a Markdown + HTML report of a model directory."""

from __future__ import annotations

from pathlib import Path

import typer

from .app import app, command_guard, emit_json, progress_bar, quiet, stdout


@app.command(epilog="Example: bayes-unlearn report pima-model --out pima-report --refit")
def report(
    model_dir: Path = typer.Argument(..., help="Model directory."),
    out: Path | None = typer.Option(None, "--out", "-o",
                                    help="Directory for report.md, report.html and the PNG plots "
                                         "(default: MODEL_DIR-report beside the model)."),
    refit: bool = typer.Option(False, "--refit", help="Also run an exact refit on the remaining rows "
                                                      "and plot it next to the forgetting result (slow)."),
    seed: int = typer.Option(0, help="Random seed of the exact refit."),
    as_json: bool = typer.Option(False, "--json", help="Print exactly one JSON object on stdout."),
):
    """Write a Markdown and a self-contained HTML report with plots of a model's posterior and weights."""
    from ..report import model_report

    with command_guard(as_json) as warns:
        target = out if out is not None else model_dir.with_name(f"{model_dir.name}-report")
        with progress_bar("exact refit (NUTS)" if refit else "plotting", enabled=not as_json) as bar:
            md_path, html_path = model_report(model_dir, target, refit=refit, seed=seed, progress=bar)
        pngs = sorted(str(p) for p in target.glob("*.png"))
        if as_json:
            emit_json({"markdown": str(md_path), "html": str(html_path), "figures": pngs, "warnings": warns})
        elif not quiet():
            stdout.print(f"wrote {html_path} and {md_path.name} with {len(pngs)} plots")
