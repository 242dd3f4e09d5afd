"""Core commands: fit, forget, predict, info."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import typer
from rich.table import Table

from ..errors import DataError, RequestError
from .app import app, command_guard, emit_json, parse_list, progress_bar, quiet, stdout

JSON_OPT = typer.Option(False, "--json", help="Print exactly one JSON object on stdout.")


@app.command(epilog="Example: bayes-unlearn fit pima.csv --target Outcome "
                    "--impute-zeros Glucose,BloodPressure,SkinThickness,Insulin,BMI --out pima-model")
def fit(
    data: str = typer.Argument(..., help="CSV file with a header row, or builtin:breast-cancer."),
    target: str = typer.Option(..., "--target", "-t", help="Name of the target column."),
    out: Path = typer.Option(..., "--out", "-o", help="Model directory to create."),
    model: str = typer.Option("logistic", "--model", "-m", help="logistic | linear | softmax."),
    chains: int = typer.Option(4, min=1, help="Number of MCMC chains."),
    draws: int = typer.Option(1000, min=1, help="Posterior draws per chain."),
    warmup: int = typer.Option(1000, min=1, help="Warm-up (adaptation) steps per chain."),
    seed: int = typer.Option(0, help="Random seed."),
    id_column: str | None = typer.Option(None, help="Column of unique row ids (default: 0-based data-row position)."),
    impute_zeros: str | None = typer.Option(None, help="Comma-separated columns where 0 means missing (median-imputed)."),
    categorical: str | None = typer.Option(None, help="Comma-separated columns to one-hot encode "
                                                      "(default: every non-numeric column)."),
    prior_scale: float = typer.Option(1.0, help="Prior sd of the standardised-feature weights."),
    overwrite: bool = typer.Option(False, help="Replace an existing model directory."),
    as_json: bool = JSON_OPT,
):
    """Fit a Bayesian model by NUTS and save it as a model directory."""
    from ..data import load_table, row_ids_of, split_target
    from ..estimator import ESTIMATORS
    from ..store import is_model_dir

    with command_guard(as_json) as warns:
        if model not in ESTIMATORS:
            raise DataError(f"unknown --model {model!r}; choose logistic, linear or softmax")
        if out.exists() and is_model_dir(out) and not overwrite:
            raise RequestError(f"{out} already holds a model; pass --overwrite to replace it")
        if out.exists() and (not out.is_dir() or (not is_model_dir(out) and any(out.iterdir()))):
            raise RequestError(f"{out} exists and is not a bayes-unlearn model directory; "
                               "choose another --out (nothing was fitted)")
        frame = load_table(data)
        ids = row_ids_of(frame, id_column)
        features, y = split_target(frame, target, id_column)
        estimator = ESTIMATORS[model](chains=chains, draws=draws, warmup=warmup, random_state=seed,
                                      prior_scale=prior_scale, impute_zeros=parse_list(impute_zeros),
                                      categorical=parse_list(categorical) if categorical else None)
        with progress_bar(f"NUTS {chains}×{draws}") as progress:
            estimator.progress = progress
            estimator.fit(features, y, row_ids=ids)
            estimator.progress = None
        estimator.id_column_ = id_column  # stored, so that predict can ignore it
        estimator.save(out)
        fit_info = estimator.fit_info_
        payload = {"model_dir": str(out), "model": model, "n_rows": len(ids),
                   "n_params": estimator.family_.n_params, **fit_info, "warnings": warns}
        if as_json:
            emit_json(payload)
        elif not quiet():
            table = Table(title=f"Fitted {model} model → {out}")
            for col in ("rows", "params", "chains×draws", "seconds", "R-hat max", "bulk ESS min", "divergences"):
                table.add_column(col)
            rhat = fit_info["rhat_max"]
            table.add_row(str(len(ids)), str(estimator.family_.n_params), f"{chains}×{draws}",
                          f"{fit_info['seconds']:.2f}", "—" if rhat is None else f"{rhat:.3f}",
                          f"{fit_info['ess_bulk_min']:.0f}", str(fit_info["divergences"]))
            stdout.print(table)


def read_row_ids(rows: str | None, rows_file: Path | None) -> list[str]:
    if (rows is None) == (rows_file is None):
        raise RequestError("give exactly one of --rows and --rows-file")
    if rows is not None:
        ids = parse_list(rows)
    else:
        if not rows_file.is_file():
            raise DataError(f"rows file not found: {rows_file}")
        ids = []
        for line in rows_file.read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0]
            ids.extend(t.strip() for t in line.split(",") if t.strip())
    if not ids:
        raise RequestError("no row ids given")
    return ids


@app.command(epilog="Example: bayes-unlearn forget pima-model --rows 3,17,42")
def forget(
    model_dir: Path = typer.Argument(..., help="Model directory (updated in place, atomically)."),
    rows: str | None = typer.Option(None, help="Comma-separated row ids to forget."),
    rows_file: Path | None = typer.Option(None, help="File of row ids (comma- or newline-separated)."),
    method: str = typer.Option("auto", help="auto | reweight | smc | refit. auto reweights when the "
                                            "weights' ESS and Pareto k̂ allow, else runs tempered SMC, "
                                            "else a warm refit; the output says which ran and why."),
    purge: bool = typer.Option(False, "--purge", help="Also regenerate the samples so that none was "
                                                      "drawn with a forgotten row (never reweight only)."),
    as_json: bool = JSON_OPT,
):
    """Forget training rows: remove their influence from the posterior without retraining."""
    from ..serialize import load_model

    with command_guard(as_json) as warns:
        ids = read_row_ids(rows, rows_file)
        model = load_model(model_dir)
        result = model.forget(ids, method=method, purge=purge)
        if result.n_forgotten:
            model.save(model_dir)
        payload = {**result.to_dict(), "warning": result.warning, "warnings": warns}
        if as_json:
            emit_json(payload)
        elif not quiet():
            stdout.print(forget_table(result))


def forget_table(result) -> Table:
    table = Table(title="Forget request")
    for col in ("method", "forgotten", "remaining", "ESS", "Pareto k̂", "reliable", "seconds"):
        table.add_column(col)
    k = "—" if result.pareto_k is None else f"{result.pareto_k:.2f}"
    table.add_row(result.method, str(result.n_forgotten), str(result.n_remaining), f"{result.ess:.0f}", k,
                  "yes" if result.reliable else "[bold red]NO[/]", f"{result.seconds:.3f}")
    table.caption = result.reason if result.reliable else f"[red]{result.warning}[/]"
    if result.already_forgotten:
        table.caption += f"\nalready forgotten (no-op): {', '.join(result.already_forgotten[:10])}"
    return table


@app.command(epilog="Example: bayes-unlearn predict pima-model new_patients.csv --out predictions.csv")
def predict(
    model_dir: Path = typer.Argument(..., help="Model directory."),
    data: str = typer.Argument(..., help="CSV with the training feature columns (target/id columns are ignored)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write predictions to this CSV."),
    interval: float = typer.Option(0.95, help="Credible-interval mass."),
    as_json: bool = JSON_OPT,
):
    """Predict with the weighted posterior predictive, with credible intervals."""
    from ..data import load_table
    from ..serialize import load_model

    with command_guard(as_json) as warns:
        model = load_model(model_dir)
        frame = load_table(data)
        drop = [c for c in frame.columns if str(c) not in model.transform_.input_columns
                and str(c) in _ignorable_columns(model)]
        features = frame.drop(columns=drop)
        summary = model.predict_summary(features, interval=interval)
        table = _prediction_frame(model, summary)
        diag = model.posterior_.diagnostics()
        payload = _prediction_payload(model, summary, table)
        payload.update({"interval": interval, "n_rows": len(table), "weights": diag.to_dict(),
                        "warnings": warns})
        if not diag.reliable:
            payload["warning"] = f"predictions use unreliable weights: {diag.reason}"
        if out is not None:
            _atomic_csv(table, out)
        if as_json:
            emit_json(payload)
        elif not quiet():
            if out is None:
                stdout.print(table.to_string(index=False, max_rows=40))
            else:
                stdout.print(f"wrote {len(table)} predictions to {out}")
            if not diag.reliable:
                from .app import stderr

                stderr.print(f"[bold yellow]warning:[/] {payload['warning']}")


def _ignorable_columns(model) -> set[str]:
    id_column = getattr(model, "id_column_", None)
    return {str(model.train_target_.name), "__row_id__"} | ({str(id_column)} if id_column else set())


def _prediction_frame(model, summary) -> pd.DataFrame:
    task = model.family_.task
    if task == "binary":
        return pd.DataFrame({"probability": summary["mean"], "lower": summary["lower"],
                             "upper": summary["upper"],
                             "predicted": model.classes_[(summary["mean"] > 0.5).astype(int)]})
    if task == "multiclass":
        cols = {}
        for k, c in enumerate(model.classes_):
            cols[f"p_{c}"] = summary["mean"][:, k]
        frame = pd.DataFrame(cols)
        frame["predicted"] = model.classes_[np.argmax(summary["mean"], axis=1)]
        return frame
    return pd.DataFrame({"mean": summary["mean"], "lower": summary["lower"], "upper": summary["upper"]})


def _prediction_payload(model, summary, table) -> dict:
    task = model.family_.task
    bounds = {"lower": summary["lower"], "upper": summary["upper"]}
    if task == "binary":
        return {"probabilities": summary["mean"], **bounds, "predicted": table["predicted"].tolist()}
    if task == "multiclass":
        return {"probabilities": summary["mean"], **bounds, "classes": list(model.classes_),
                "predicted": table["predicted"].tolist()}
    return {"mean": summary["mean"], **bounds}


def _atomic_csv(frame: pd.DataFrame, path: Path) -> None:
    import os

    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    frame.to_csv(tmp, index=False)
    os.replace(tmp, path)


@app.command(epilog="Example: bayes-unlearn info pima-model --json")
def info(
    model_dir: Path = typer.Argument(..., help="Model directory."),
    as_json: bool = JSON_OPT,
):
    """Show a model's fit diagnostics, its weights' health and the forget-request ledger."""
    from ..serialize import load_model

    with command_guard(as_json) as warns:
        model = load_model(model_dir)
        payload = {**model.info(), "model_dir": str(model_dir), "warnings": warns}
        if as_json:
            emit_json(payload)
        elif not quiet():
            w = payload["weights"]
            fit_info = payload["fit"]
            table = Table(title=f"{model_dir}: {payload['model']} model", show_header=False)
            table.add_column("key")
            table.add_column("value")
            rhat = fit_info.get("rhat_max")
            rows = [
                ("training rows", f"{payload['n_rows']} remaining, {payload['n_forgotten']} forgotten"),
                ("samples", f"{payload['n_samples']} ({fit_info['chains']} chains × {fit_info['draws']})"),
                ("fit", f"R-hat max {'—' if rhat is None else f'{rhat:.3f}'}, bulk ESS min "
                        f"{fit_info['ess_bulk_min']:.0f}, {fit_info['divergences']} divergences"),
                ("reweighting budget (ESS)", f"{w['ess']:.0f} of {w['n_samples']}"
                 + (f"; auto reweights while ESS ≥ {payload['reweighting_budget']['auto_min_ess']:.0f}"
                    if "reweighting_budget" in payload else "")),
                ("Pareto k̂", "—" if w["pareto_k"] is None else f"{w['pareto_k']:.2f} (limit {w['khat_threshold']:.2f})"),
                ("weights reliable", "yes" if w["reliable"] else f"[bold red]NO[/]: {w['reason']}"),
                ("samples drawn with forgotten rows", "yes (reweighted only; `compact` regenerates them)"
                 if payload["samples_saw_forgotten_rows"]
                 else "no" + (f" (regenerated by {fit_info['regenerated_by']})"
                              if fit_info.get("regenerated_by") else "")),
                ("samples independent of forgotten rows",
                 "yes" if payload["samples_independent_of_forgotten_rows"]
                 else "no (they descend from draws that saw them; `compact --method refit` makes a cold refit)"),
            ]
            for key, value in rows:
                table.add_row(key, value)
            stdout.print(table)
            if payload["ledger"]:
                ledger = Table(title="Forget requests")
                for col in ("#", "time", "rows", "method", "ESS", "k̂", "reliable", "seconds", "why"):
                    ledger.add_column(col)
                for i, e in enumerate(payload["ledger"], 1):
                    k = "—" if e["pareto_k"] is None else f"{e['pareto_k']:.2f}"
                    ledger.add_row(str(i), e["time"], str(len(e["row_ids"])), e["method"], f"{e['ess']:.0f}", k,
                                   "yes" if e["reliable"] else "NO", f"{e['seconds']:.3f}", e.get("reason", ""))
                stdout.print(ledger)
