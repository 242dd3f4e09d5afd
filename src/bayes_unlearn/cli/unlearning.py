"""Unlearning commands beyond ``forget``: compact (regenerate the samples) and verify (vs an exact refit)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from .app import app, command_guard, emit_json, progress_bar, quiet, stdout
from .core import JSON_OPT, forget_table


@app.command(epilog="Example: bayes-unlearn compact pima-model --method refit")
def compact(
    model_dir: Path = typer.Argument(..., help="Model directory (updated in place, atomically)."),
    method: str = typer.Option("auto", help="auto | smc | refit. smc resamples the weighted samples and "
                                            "moves them by HMC on the remaining rows; refit is a cold "
                                            "NUTS refit; auto = smc unless its diagnostics fail."),
    as_json: bool = JSON_OPT,
):
    """Regenerate the samples so that none was drawn from a fit that saw a forgotten row."""
    from ..serialize import load_model

    with command_guard(as_json) as warns:
        model = load_model(model_dir)
        result = model.compact(method=method)
        if result.method != "none":
            model.save(model_dir)
        payload = {**result.to_dict(), "samples_saw_forgotten_rows": bool(model.samples_saw_forgotten_rows_),
                   "warning": result.warning, "warnings": warns}
        if as_json:
            emit_json(payload)
        elif not quiet():
            table = forget_table(result)
            table.title = "Compact"
            stdout.print(table)


@app.command(epilog="Example: bayes-unlearn verify pima-model --json")
def verify(
    model_dir: Path = typer.Argument(..., help="Model directory (read only)."),
    data: str | None = typer.Option(None, "--data", help="CSV of rows to compare predictions on "
                                                         "(default: the remaining training rows)."),
    seed: int = typer.Option(12345, help="Seed of the exact refits."),
    as_json: bool = JSON_OPT,
):
    """Compare the model with an exact refit on the remaining rows, against the Monte-Carlo noise floor."""
    from ..evaluate.fidelity import verify as verify_model
    from ..serialize import load_model

    with command_guard(as_json) as warns:
        model = load_model(model_dir)
        frame = None
        if data is not None:
            from ..data import load_table

            frame = load_table(data)
        with progress_bar("exact refits", enabled=not as_json) as progress:
            model.progress = progress
            report = verify_model(model, data=frame, seed=seed)
            model.progress = None
        payload = {**report, "model_dir": str(model_dir), "warnings": warns}
        if as_json:
            emit_json(payload)
        elif not quiet():
            table = Table(title=f"{model_dir}: fidelity vs an exact refit on {report['n_rows']} rows",
                          show_header=False)
            table.add_column("metric")
            table.add_column("value")
            rows = [
                ("max |Δ mean| / sd", f"{report['max_mean_err_sd']:.3f} (noise floor "
                                      f"{report['noise_floor_sd']:.3f}, tolerance {report['tolerance_sd']:.3f})"),
                ("sd ratio (min – max)", f"{report['sd_ratio_min']:.2f} – {report['sd_ratio_max']:.2f}"),
                ("predicted-class agreement", "—" if report["pred_agreement"] is None
                 else f"{report['pred_agreement']:.2%}"),
                ("max |Δp|", f"{report['max_abs_dp']:.3f} (noise floor {report['noise_floor_dp']:.3f})"),
                ("seconds: exact refit / last forget", f"{report['seconds_refit']:.2f} / "
                                                       f"{report['seconds_forget']:.3f} "
                                                       f"(ratio {report['time_ratio']:.0f}×)"
                 if report["time_ratio"] is not None else f"{report['seconds_refit']:.2f} / —"),
                ("verdict", report["verdict"] if report["faithful"] else f"[bold red]{report['verdict']}[/]"),
            ]
            for key, value in rows:
                table.add_row(key, value)
            stdout.print(table)
