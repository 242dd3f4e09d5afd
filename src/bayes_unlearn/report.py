"""Reports: PNG plots (matplotlib / ArviZ, Agg backend) and a Markdown + self-contained HTML page.

A report is a list of ``Section``s (paragraphs, tables, figures). The plot functions take
plain arrays or ``WeightedPosterior``s and write one PNG each; ``write_report`` writes
``report.md`` (linking the PNG files beside it) and ``report.html`` (the same PNGs embedded
as base64, so the HTML file alone is the whole report). ``model_report`` builds the report
of a saved model directory.
"""

from __future__ import annotations

import base64
import html
import os
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from matplotlib.lines import Line2D

from .posterior import WeightedPosterior
from .weights import systematic_resample

# Colours shared by every plot: one per posterior / detector, stable across figures.
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")


@dataclass
class Figure:
    path: Path
    caption: str


@dataclass
class Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[list[dict]] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # paragraphs printed after the tables


# ---- plotting -----------------------------------------------------------------------------
def _pyplot():
    """pyplot on the Agg backend unless the caller already chose one (e.g. in a notebook)."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    plt = _pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, path)
    return path


def equal_weight_draws(posterior: WeightedPosterior, seed: int = 0) -> np.ndarray:
    """(S, d) draws with equal weights: the samples themselves if unweighted, else resampled."""
    if not posterior.is_weighted:
        return posterior.flat_samples
    idx = systematic_resample(posterior.weights, posterior.n_samples, seed)
    return posterior.flat_samples[idx]


def _inference_data(draws: np.ndarray, param_names):
    """One ArviZ variable per parameter, so that plot labels are the parameters' own names."""
    import arviz as az

    draws = np.asarray(draws)
    return az.from_dict(posterior={str(name): draws[None, :, j] for j, name in enumerate(param_names)})


def moved_parameters(posteriors: dict[str, WeightedPosterior], k: int) -> list[int]:
    """The k parameters whose weighted means differ most (in posterior sds) across the posteriors."""
    means = np.array([p.mean() for p in posteriors.values()])
    sd = next(iter(posteriors.values())).sd()
    spread = (means.max(axis=0) - means.min(axis=0)) / np.where(sd > 0, sd, 1.0)
    return list(np.argsort(-spread)[:k])


def plot_marginals(posteriors: dict[str, WeightedPosterior], param_names, path, k: int = 6) -> Path:
    """Density of the k parameters that moved most, one curve per posterior (ArviZ plot_density)."""
    import arviz as az

    plt = _pyplot()
    names = list(param_names)
    idx = moved_parameters(posteriors, k)
    chosen = [names[j] for j in idx]
    data = [_inference_data(equal_weight_draws(p)[:, idx], chosen) for p in posteriors.values()]
    ncols = 3
    nrows = int(np.ceil(len(chosen) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(12, 3.2 * nrows), squeeze=False)
    az.plot_density(data, data_labels=list(posteriors), var_names=chosen,
                    ax=axes.ravel()[:len(chosen)], colors=list(PALETTE[:len(data)]),
                    hdi_prob=0.99, shade=0.1, textsize=10)
    for ax in axes.ravel():
        legend = ax.get_legend()
        if legend is not None:
            legend.remove()
    for ax in axes.ravel()[len(chosen):]:
        ax.set_visible(False)
    fig.subplots_adjust(hspace=0.4)
    handles = [Line2D([], [], color=c, lw=2, label=name) for c, name in zip(PALETTE, posteriors)]
    fig.legend(handles=handles, loc="upper center", ncol=len(handles), bbox_to_anchor=(0.5, 1.0),
               frameon=False, fontsize=10)
    fig.suptitle("Posterior marginals of the parameters that moved most (99 % HDI)", fontsize=13, y=1.05)
    return _save(fig, path)


def plot_forest(posteriors: dict[str, WeightedPosterior], param_names, path) -> Path:
    """Every parameter's 94 % interval under each posterior (ArviZ plot_forest)."""
    import arviz as az

    plt = _pyplot()
    names = list(param_names)
    data = [_inference_data(equal_weight_draws(p), names) for p in posteriors.values()]
    fig, ax = plt.subplots(figsize=(8, max(4.0, 0.32 * len(names) * max(1, len(data)) ** 0.5 + 1)))
    az.plot_forest(data, model_names=list(posteriors), combined=True, ax=ax, legend=False,
                   colors=list(PALETTE[:len(data)]), textsize=9, linewidth=2.0, markersize=5)
    handles = [Line2D([], [], color=c, lw=2, label=name) for c, name in zip(PALETTE, posteriors)]
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.01), ncol=len(handles),
              frameon=False, fontsize=9)
    ax.set_title("All parameters: posterior mean and 94 % HDI", pad=28)
    return _save(fig, path)


def plot_weights(log_weights: dict[str, np.ndarray], path) -> Path:
    """Sorted normalised importance weights (log scale) against the uniform 1/S line, with ESS and k̂."""
    from .posterior import diagnose_weights
    from .weights import normalize_log_weights

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    n = None
    for color, (label, lw) in zip(PALETTE, log_weights.items()):
        w = np.sort(np.exp(normalize_log_weights(lw)))[::-1]
        n = len(w)
        diag = diagnose_weights(lw)
        k = "—" if not np.isfinite(diag.pareto_k) else f"{diag.pareto_k:.2f}"
        verdict = "reliable" if diag.reliable else "UNRELIABLE"
        ax.plot(np.arange(1, n + 1), w, color=color, lw=2,
                label=f"{label}: ESS {diag.ess:.0f}/{n}, k̂ {k} ({verdict})")
    if n:
        ax.axhline(1.0 / n, color="grey", ls="--", lw=1, label="uniform weights 1/S")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("sample rank (largest weight first)")
    ax.set_ylabel("normalised weight")
    ax.set_title("Importance weights of the candidate set")
    ax.legend(fontsize=9, loc="upper right")
    ax.grid(alpha=0.3, which="both")
    return _save(fig, path)


def plot_ledger(ledger: list[dict], n_samples: int, path) -> Path:
    """ESS (top) and Pareto k̂ (bottom) after each forget request of the ledger, coloured by method."""
    from matplotlib.patches import Patch

    from .posterior import min_reliable_ess
    from .weights import khat_threshold

    plt = _pyplot()
    fig, (ess_ax, k_ax) = plt.subplots(2, 1, figsize=(8, 5.5), sharex=True,
                                       gridspec_kw={"height_ratios": [3, 2]})
    x = np.arange(1, len(ledger) + 1)
    methods = sorted({e["method"] for e in ledger})
    colors = {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(methods)}
    bar_colors = [colors[e["method"]] for e in ledger]
    ess_ax.bar(x, [e["ess"] for e in ledger], color=bar_colors, alpha=0.85, width=0.6)
    for xi, e in zip(x, ledger):
        n = len(e["row_ids"])
        ess_ax.annotate(f"{n} row{'s' if n != 1 else ''}", (xi, e["ess"]), ha="center", va="bottom", fontsize=8)
    ess_ax.axhline(min_reliable_ess(n_samples), color="grey", ls="--", lw=1)
    ess_ax.set_yscale("log")
    ess_ax.set_ylim(0.8, n_samples * 2)
    ess_ax.set_ylabel(f"ESS (of {n_samples})")
    ks = np.array([np.nan if e["pareto_k"] is None else e["pareto_k"] for e in ledger], float)
    k_ax.scatter(x, ks, c=bar_colors, s=40, zorder=3)
    k_ax.plot(x, ks, color="black", lw=0.8)
    limit = khat_threshold(n_samples)
    k_ax.axhline(limit, color="black", ls=":", lw=1)
    top = np.nanmax(np.append(ks, limit))
    k_ax.set_ylim(min(0.0, np.nanmin(np.append(ks, 0.0))) - 0.05, max(1.0, top + 0.1))
    k_ax.set_ylabel("Pareto k̂")
    k_ax.set_xlabel("forget request #")
    k_ax.set_xticks(x)
    k_ax.set_xlim(0.4, len(ledger) + 0.6)
    handles = [Patch(color=colors[m], label=m) for m in methods] + [
        Line2D([], [], color="grey", ls="--", label="ESS floor"),
        Line2D([], [], color="black", ls=":", label="k̂ limit")]
    fig.legend(handles=handles, fontsize=8, loc="lower center", ncol=len(handles), frameon=False,
               bbox_to_anchor=(0.5, -0.04))
    ess_ax.set_title("Request ledger: weight diagnostics after each forget request")
    return _save(fig, path)


def plot_influence(scores, is_corrupted, path, name: str = "influence r(z)",
                   cutoffs: dict[str, float] | None = None) -> Path:
    """Histograms of a detector's scores for corrupted vs clean training rows, with selection cut-offs."""
    plt = _pyplot()
    scores = np.asarray(scores, float)
    bad = np.asarray(is_corrupted, bool)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    bins = np.histogram_bin_edges(scores[np.isfinite(scores)], bins=40)
    ax.hist(scores[~bad], bins=bins, alpha=0.6, color=PALETTE[0], label=f"clean rows ({(~bad).sum()})")
    ax.hist(scores[bad], bins=bins, alpha=0.6, color=PALETTE[1], label=f"corrupted rows ({bad.sum()})")
    for style, (label, value) in zip(("--", ":", "-."), (cutoffs or {}).items()):
        ax.axvline(value, color="black", ls=style, lw=1.2, label=label)
    ax.set_xlabel(name)
    ax.set_ylabel("training rows")
    ax.set_title(f"{name}: corrupted vs clean rows")
    ax.legend(fontsize=9)
    return _save(fig, path)


def plot_roc(scores: dict[str, np.ndarray], is_corrupted, path) -> Path:
    """ROC curves of several detectors for finding the corrupted rows (higher score = more suspect)."""
    from sklearn.metrics import roc_auc_score, roc_curve

    plt = _pyplot()
    truth = np.asarray(is_corrupted, bool)
    fig, ax = plt.subplots(figsize=(6.5, 6))
    for color, (name, s) in zip(PALETTE, scores.items()):
        fpr, tpr, _ = roc_curve(truth, np.asarray(s, float))
        ax.plot(fpr, tpr, color=color, lw=2, label=f"{name} (AUROC {roc_auc_score(truth, s):.2f})")
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label="chance (0.50)")
    ax.set_xlabel("false-positive rate (clean rows flagged)")
    ax.set_ylabel("true-positive rate (corrupted rows found)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    ax.set_title("Detecting the corrupted rows")
    ax.legend(fontsize=9, loc="lower right")
    ax.grid(alpha=0.3)
    return _save(fig, path)


# ---- writing ------------------------------------------------------------------------------
def prepare_output_dir(path) -> Path:
    """Create the output directory; a path that exists as a file is a usage error, not a crash."""
    from .errors import DataError

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise DataError(f"--out {path} exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the output directory {path}: {exc.strerror}") from None
    return path


def atomic_write_text(path: Path, text: str) -> None:
    """Write to a temporary file beside ``path``, then rename: readers never see half a report."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def format_value(value) -> str:
    """Table cell text: floats to 3 significant decimals, booleans as yes/NO, None as —."""
    if value is None:
        return "—"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "NO"
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return "—"
        if abs(value) >= 100:
            return f"{value:.0f}"
        return f"{value:.3f}"
    return str(value)


def _cell(value) -> str:
    return format_value(value)


def markdown_table(rows: list[dict]) -> str:
    if not rows:
        return ""
    cols = list(rows[0])
    lines = ["| " + " | ".join(c.replace("|", "\\|") for c in cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_cell(r.get(c)).replace("|", "\\|") for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def html_table(rows: list[dict]) -> str:
    if not rows:
        return ""
    cols = list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(r.get(c)))}</td>" for c in cols) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _inline_html(text: str) -> str:
    """The little Markdown the paragraphs use: `code` and **bold**."""
    out = html.escape(text)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)


def _paragraph_html(text: str) -> str:
    css = ' class="warning"' if text.lower().startswith(("warning", "**warning")) else ""
    return f"<p{css}>{_inline_html(text)}</p>"


_CSS = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
line-height:1.5;color:#222}table{border-collapse:collapse;margin:1rem 0}
th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}th{background:#f3f3f3}
img{max-width:100%;border:1px solid #eee}figcaption{color:#555;font-size:.9rem}
code{background:#f3f3f3;padding:0 .2rem}.warning{color:#a00}"""


def write_report(out_dir, title: str, sections: list[Section], intro: str = "") -> tuple[Path, Path]:
    """Write ``report.md`` (PNG files linked) and ``report.html`` (PNGs embedded) into ``out_dir``."""
    out_dir = prepare_output_dir(out_dir)
    md = [f"# {title}", ""]
    body = [f"<h1>{html.escape(title)}</h1>"]
    if intro:
        md += [intro, ""]
        body.append(f"<p>{_inline_html(intro)}</p>")
    for section in sections:
        md += [f"## {section.title}", ""]
        body.append(f"<h2>{html.escape(section.title)}</h2>")
        for p in section.paragraphs:
            md += [p, ""]
            body.append(_paragraph_html(p))
        for rows in section.tables:
            md += [markdown_table(rows), ""]
            body.append(html_table(rows))
        for p in section.notes:
            md += [p, ""]
            body.append(_paragraph_html(p))
        for fig in section.figures:
            rel = Path(fig.path).resolve().relative_to(out_dir.resolve()).as_posix()
            md += [f"![{fig.caption}]({rel})", "", f"*{fig.caption}*", ""]
            data = base64.b64encode(Path(fig.path).read_bytes()).decode("ascii")
            body.append(f'<figure><img alt="{html.escape(fig.caption)}" src="data:image/png;base64,{data}">'
                        f"<figcaption>{_inline_html(fig.caption)}</figcaption></figure>")
    page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}'
            f"</title><style>{_CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
    md_path, html_path = out_dir / "report.md", out_dir / "report.html"
    atomic_write_text(md_path, "\n".join(md))
    atomic_write_text(html_path, page)
    return md_path, html_path


# ---- sections shared by the model report and the demo -------------------------------------
def uniform_version(posterior: WeightedPosterior) -> WeightedPosterior:
    """The same samples with equal weights: the posterior before any reweighting forget."""
    n = posterior.n_samples
    return replace(posterior, log_weights=np.full(n, -np.log(n)))


def marginals_section(posteriors: dict[str, WeightedPosterior], param_names, out_dir: Path,
                      note: str = "") -> Section:
    section = Section("Posterior marginals")
    if note:
        section.paragraphs.append(note)
    section.paragraphs.append(
        "Weighted posteriors are drawn by systematic resampling of the candidate set, so a collapsed "
        "set (tiny ESS) shows as a few spikes: that is the honest picture, not a plotting artefact.")
    section.figures.append(Figure(plot_marginals(posteriors, param_names, out_dir / "marginals.png"),
                                  "Densities of the six parameters that moved most between the "
                                  + ", ".join(posteriors) + " posteriors."))
    section.figures.append(Figure(plot_forest(posteriors, param_names, out_dir / "forest.png"),
                                  "Every parameter: mean and 94 % HDI under each posterior."))
    return section


def weights_section(log_weights: dict[str, np.ndarray], ledger: list[dict], n_samples: int,
                    out_dir: Path) -> Section:
    section = Section("Importance weights and the request ledger")
    section.paragraphs.append(
        "Forgetting by reweighting gives each sample the weight w(θ) ∝ 1/p(D_e|θ). The result is "
        "trustworthy while the effective sample size (ESS) stays high and the Pareto k̂ of the weights' "
        "tail stays under the limit; otherwise the tool moves to SMC or a refit, or says it is unreliable.")
    section.figures.append(Figure(plot_weights(log_weights, out_dir / "weights.png"),
                                  "Sorted importance weights: a flat line is a healthy candidate set, "
                                  "a steep drop means a few samples carry all the weight."))
    if ledger:
        rows = [{"#": i, "time": e["time"], "rows": len(e["row_ids"]), "method": e["method"],
                 "ESS": e["ess"], "k̂": e["pareto_k"], "reliable": e["reliable"], "seconds": e["seconds"]}
                for i, e in enumerate(ledger, 1)]
        section.tables.append(rows)
        section.figures.append(Figure(plot_ledger(ledger, n_samples, out_dir / "ledger.png"),
                                      "ESS (bars) and Pareto k̂ (dots) after every forget request."))
    return section


def model_report(model_dir, out_dir, refit: bool = False, seed: int = 0, progress=None) -> tuple[Path, Path]:
    """Report of a saved model directory: state, marginals, weights and ledger (+ exact refit)."""
    from .serialize import load_model

    model = load_model(model_dir)
    out_dir = prepare_output_dir(out_dir)
    info = model.info()
    w = info["weights"]
    fit = info["fit"]
    summary = Section("Model")
    summary.tables.append([{
        "model": info["model"], "rows remaining": info["n_rows"], "rows forgotten": info["n_forgotten"],
        "samples": info["n_samples"], "R-hat max": fit.get("rhat_max"), "bulk ESS min": fit.get("ess_bulk_min"),
        "weights ESS": w["ess"], "Pareto k̂": w["pareto_k"], "weights reliable": w["reliable"],
    }])
    if not w["reliable"]:
        summary.paragraphs.append(f"**Warning**: the current weights are unreliable ({w['reason']}); "
                                  "predictions may be far from a refit. Forget with method 'smc' or 'refit'.")
    if info["samples_saw_forgotten_rows"]:
        summary.paragraphs.append("The stored samples were drawn by a fit that saw the forgotten rows; "
                                  "their influence is removed by the weights only.")
    current = model.posterior_
    posteriors = {}
    if info["samples_saw_forgotten_rows"] and current.is_weighted:
        posteriors["original fit"] = uniform_version(current)
    posteriors["current" if not posteriors else "after forgetting"] = current
    if refit:
        posteriors["exact refit"] = exact_refit(model, seed=seed, progress=progress)
    sections = [summary, marginals_section(posteriors, model.family_.param_names, out_dir),
                weights_section({"current": current.log_weights}, model.ledger_, current.n_samples, out_dir)]
    return write_report(out_dir, f"bayes-unlearn report: {Path(model_dir).name}", sections)


def exact_refit(model, seed: int = 0, progress=None) -> WeightedPosterior:
    """NUTS on the remaining rows only, same settings and array shapes: the reference posterior."""
    previous, model.progress = model.progress, progress
    try:
        return model._sample_candidate_set(seed)[0]
    finally:
        model.progress = previous
