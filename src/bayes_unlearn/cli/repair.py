"""Repair commands: ``repair`` (find and forget the causes of failures) and ``reproduce``
(the source report's Pima experiment, beside an honest three-way protocol)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ..errors import DataError, RequestError
from .app import app, command_guard, emit_json, quiet, stderr, stdout

JSON_OPT = typer.Option(False, "--json", help="Print exactly one JSON object on stdout.")


def read_feedback(model, source: str, id_column: str | None):
    """Feedback features, labels and row names from a CSV that has the model's target column."""
    from ..data import load_table

    frame = load_table(source)
    target = str(model.train_target_.name)
    if target not in [str(c) for c in frame.columns]:
        raise DataError(f"the feedback data must contain the model's target column {target!r}; "
                        f"its columns are: {', '.join(map(str, frame.columns))}")
    frame.columns = [str(c) for c in frame.columns]
    drop = [target]
    names = [str(i) for i in range(len(frame))]
    for col in (id_column, "__row_id__"):
        if col is not None and col in frame.columns:
            names = frame[col].astype(str).tolist()
            drop.append(col)
            break
    else:
        if id_column is not None:
            raise DataError(f"id column {id_column!r} not found in the feedback data")
    return frame.drop(columns=drop), frame[target], names


@app.command(epilog="Example: bayes-unlearn repair pima-model --feedback feedback.csv --apply --out pima-repaired")
def repair(
    model_dir: Path = typer.Argument(..., help="Model directory."),
    feedback: str = typer.Option(..., "--feedback", "-f", help="CSV of labelled rows the model was not trained on "
                                                              "(the model's feature columns and target column)."),
    detector: str = typer.Option("auto", help="influence | loo | feedback | combined | auto."),
    select: str = typer.Option("auto", help="positive (r > 0, the report's rule) | top-k | auto."),
    k: int | None = typer.Option(None, "--k", min=0, help="Number of rows to remove with --select top-k."),
    update: str = typer.Option("refit", help="Posterior update with the failures: refit | reweight | smc."),
    forget_method: str | None = typer.Option(None, help="Forgetting method for the causes (default: the model's)."),
    apply: bool = typer.Option(False, "--apply", help="Forget the causes and write the repaired model."),
    out: Path | None = typer.Option(None, "--out", "-o", help="With --apply: write here instead of MODEL_DIR."),
    id_column: str | None = typer.Option(None, help="Column of feedback row names (ignored as a feature)."),
    folds: int = typer.Option(3, min=2, help="Folds for the automatic choice."),
    seed: int = typer.Option(0, help="Random seed."),
    show: int = typer.Option(25, min=0, help="Rows of the ranked table to print."),
    as_json: bool = JSON_OPT,
):
    """Find the training rows behind the model's failures on labelled feedback data; --apply forgets them."""
    from ..repair import repair as run_repair
    from ..serialize import load_model

    with command_guard(as_json) as warns:
        if out is not None and not apply:
            raise RequestError("--out is only used with --apply")
        model = load_model(model_dir)
        features, labels, names = read_feedback(model, feedback, id_column)
        result = run_repair(model, features, labels, detector=detector, select=select, k=k, update=update,
                            forget_method=forget_method, folds=folds, seed=seed)
        written = None
        if apply and result.repaired_model is not None:
            written = out or model_dir
            result.repaired_model.save(written)
        payload = result.to_dict()
        payload["failure_rows"] = [names[i] for i in result.failure_rows]
        payload.update({"model_dir": str(model_dir), "applied": written is not None,
                        "written_to": None if written is None else str(written),
                        "warnings": list(dict.fromkeys(result.warnings + warns))})
        if as_json:
            emit_json(payload)
        elif not quiet():
            stdout.print(causes_table(model, result, show))
            stdout.print(summary_table(result))
            if apply and written is None:
                stderr.print("nothing applied: no cause was selected")
            elif written is not None:
                stdout.print(f"repaired model written to {written}")


def causes_table(model, result, show: int) -> Table:
    table = Table(title=f"Suspected causes: {result.n_causes} rows ({result.detector}, {result.select}"
                        + (f", K={result.k}" if result.k is not None else "") + ")")
    for col in ("rank", "row id", "label", "score", "LOO k̂"):
        table.add_column(col, justify="right" if col != "row id" else "left")
    labels = dict(zip([str(r) for r in model.row_ids_], model.train_target_.tolist()))
    for rank, (rid, score, khat) in enumerate(zip(result.causes, result.cause_scores, result.cause_loo_khat), 1):
        if rank > show:
            break
        flag = " [red]![/]" if khat > result.loo_khat_threshold else ""
        table.add_row(str(rank), rid, str(labels.get(rid, "")), f"{score:.4f}", f"{khat:.2f}{flag}")
    if result.n_causes > show:
        table.caption = f"… {result.n_causes - show} more (--show N or --json for all)"
    return table


def summary_table(result) -> Table:
    table = Table(title="Repair summary", show_header=False)
    table.add_column("key")
    table.add_column("value")
    ud = result.update_diagnostics
    rows = [("failures F", f"{result.n_failures} of {result.n_feedback} feedback rows")]
    if ud:
        verdict = "reliable" if ud.get("reliable", True) else f"[red]UNRELIABLE[/]: {ud.get('reason', '')}"
        rows.append(("posterior update", f"{ud['method']} with {ud['n_rows_added']} rows, "
                                         f"{ud['seconds']:.1f} s, {verdict}"))
    if result.choice:
        c = result.choice
        rows.append(("automatic choice", f"{c['detector']}, K={c['k'] if c['k'] is not None else 'r>0'}: held-out "
                                         f"feedback log-lik {c['heldout_loglik']:.4f} vs {c['baseline_loglik']:.4f} "
                                         f"without repair ({c['folds']}-fold cross-fit)"))
    b, a = result.feedback_before, result.feedback_after
    rows.append(("feedback accuracy", f"{b['accuracy']:.4f}" + (f" → {a['accuracy']:.4f}" if a else "")))
    rows.append(("feedback log-loss", f"{b['log_loss']:.4f}" + (f" → {a['log_loss']:.4f}" if a else "")))
    if a:
        rows.append(("", "[dim](in-sample: the feedback rows also chose the causes)[/]"))
    if result.forget:
        f = result.forget
        k = "—" if f["pareto_k"] is None else f"{f['pareto_k']:.2f}"
        rows.append(("forget", f"{f['method']}: {f['n_forgotten']} rows, ESS {f['ess']:.0f}, k̂ {k}, "
                               + ("reliable" if f["reliable"] else "[bold red]UNRELIABLE[/]")))
    for key, value in rows:
        table.add_row(key, value)
    return table


@app.command(epilog="Example: bayes-unlearn reproduce --data ../shared/data/pima-indians-diabetes.csv --seeds 5")
def reproduce(
    data: Path | None = typer.Option(None, "--data", help="Pima CSV (default: ../shared/data or "
                                                           "$BAYES_UNLEARN_DATA_DIR)."),
    seeds: int = typer.Option(5, min=1, help="Number of seeds (splits, corruptions, samplers)."),
    chains: int = typer.Option(4, min=1, help="MCMC chains per fit."),
    draws: int = typer.Option(500, min=1, help="Draws per chain."),
    warmup: int = typer.Option(500, min=1, help="Warm-up steps per chain."),
    update: str = typer.Option("refit", help="Posterior update with F: refit (the report's) | reweight | smc."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Directory for reproduce.json and reproduce.csv."),
    as_json: bool = JSON_OPT,
):
    """Reproduce the report's Pima experiment (50 % flipped labels), beside an honest three-way protocol."""
    from ..evaluate.repair_study import StudyConfig, load_study_data
    from ..repair.update import UPDATE_METHODS
    from .app import progress_bar

    with command_guard(as_json) as warns:
        if update not in UPDATE_METHODS:
            raise RequestError(f"unknown --update {update!r}; choose from {', '.join(UPDATE_METHODS)}")
        from ..evaluate.report_experiment import PROTOCOLS
        from ..evaluate.report_experiment import reproduce as run

        study = load_study_data("pima", data)
        config = StudyConfig(chains=chains, draws=draws, warmup=warmup, update=update)
        with progress_bar(f"reproducing ({seeds} seeds)") as progress:
            result = run(study, seeds, config, progress=progress)
        result["warnings"] = warns
        if out is not None:
            _write_reproduce(out, result, PROTOCOLS)
        if as_json:
            emit_json(result)
        elif not quiet():
            stdout.print(reproduce_table(result, PROTOCOLS))
            if out is not None:
                stdout.print(f"wrote {out / 'reproduce.json'} and {out / 'reproduce.csv'}")


def _is_share(quantity: str) -> bool:
    return any(word in quantity for word in ("accuracy", "share", "precision"))


def _cell(value, quantity: str) -> str:
    """Shares as percentages (the quantity's label says %), F1 with 3 decimals, counts as integers."""
    if value is None:
        return "—"
    if quantity.startswith("|C|") or quantity.endswith("ESS"):
        return f"{value:.0f}"
    return f"{100 * value:.1f}" if _is_share(quantity) else f"{value:.3f}"


def reproduce_table(result: dict, protocols) -> Table:
    table = Table(title=f"The report's Pima experiment: 50 % of training labels flipped, "
                        f"{result['seeds']} seed(s), mean ± sd")
    table.add_column("quantity")
    table.add_column("report", justify="right")
    for p in protocols:
        table.add_column(p, justify="right")
    for row in result["table"]:
        q = row["quantity"]
        cells = []
        for p in protocols:
            s = row[p]
            cells.append("—" if s["mean"] is None else f"{_cell(s['mean'], q)} ± {_cell(s['sd'], q)}")
        table.add_row(q + (" %" if _is_share(q) else ""), _cell(row["report"], q), *cells)
    table.caption = ("leaky = the report's protocol: F is found on the test rows, which then score the repair "
                     "(the test set informed the repair). three-way: F and every choice come from feedback "
                     "rows; the test rows only score. 'unlearned C' forgets C by reweighting (report's rule) "
                     "or by the model's default forget method (auto); an ESS of a few samples means the "
                     "reweighted numbers are unreliable.")
    table.caption_justify = "left"
    return table


def _write_reproduce(out: Path, result: dict, protocols) -> None:
    import json
    import os

    import pandas as pd

    from .app import to_jsonable

    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for row in result["table"]:
        flat = {"quantity": row["quantity"], "report": row["report"]}
        for p in protocols:
            flat[f"{p} mean"], flat[f"{p} sd"] = row[p]["mean"], row[p]["sd"]
        rows.append(flat)
    for name, writer in (("reproduce.json", lambda f: f.write(json.dumps(to_jsonable(result), indent=1))),
                         ("reproduce.csv", lambda f: pd.DataFrame(rows).to_csv(f, index=False))):
        tmp = out / f".{name}.tmp-{os.getpid()}"
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            writer(fh)
        os.replace(tmp, out / name)
