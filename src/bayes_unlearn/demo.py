"""The guided demo: every capability of bayes-unlearn on the built-in breast-cancer data.

``run_demo`` runs the steps in order and hands each finished ``DemoStep`` (a small table plus
notes) to the caller, who renders it (the CLI prints Rich tables). Everything here goes
through the public API; the demo computes no formula of its own. All fits share one set of
array shapes (fixed capacity, same chains/warm-up/draws), so JAX compiles NUTS once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .report import format_value

ProgressFactory = Callable[[str], AbstractContextManager]
"""``progress(description)`` → context manager yielding a ``(done, total)`` callback or None."""


@dataclass(frozen=True)
class DemoSettings:
    chains: int = 2
    warmup: int = 400
    draws: int = 400
    seed: int = 0
    large_batch_share: float = 0.25  # share of training rows in the "large batch" deletion
    corrupted_share: float = 0.5  # class-conditional corruption: share of one class relabelled

    @classmethod
    def quick(cls, seed: int = 0) -> DemoSettings:
        """Tiny draws for CI: every step runs, the numbers are rough."""
        return cls(chains=2, warmup=100, draws=100, seed=seed)


@dataclass
class DemoStep:
    """One step's outcome: a table (list of row dicts), notes, and warnings."""

    key: str
    title: str
    rows: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    available: bool = True

    def to_dict(self) -> dict:
        return {"key": self.key, "title": self.title, "rows": self.rows, "notes": self.notes,
                "warnings": self.warnings, "seconds": self.seconds, "available": self.available}


@dataclass
class DemoOutcome:
    steps: list[DemoStep]
    report_markdown: Path | None
    report_html: Path | None
    seconds: float

    def to_dict(self) -> dict:
        return {"steps": [s.to_dict() for s in self.steps], "seconds": self.seconds,
                "report_markdown": None if self.report_markdown is None else str(self.report_markdown),
                "report_html": None if self.report_html is None else str(self.report_html)}


@contextmanager
def _no_progress(description: str) -> Iterator[None]:
    yield None


def demo_splits(seed: int):
    """Breast-cancer rows split 60/20/20 into train / feedback / test (stratified), with row ids."""
    from sklearn.model_selection import train_test_split

    from .data import load_builtin

    frame = load_builtin("breast-cancer")
    frame.index = [str(i) for i in range(len(frame))]  # row id = position in the data set
    features, target = frame.drop(columns="target"), frame["target"]
    rest_x, test_x, rest_y, test_y = train_test_split(features, target, test_size=0.2,
                                                      stratify=target, random_state=seed)
    train_x, feed_x, train_y, feed_y = train_test_split(rest_x, rest_y, test_size=0.25,
                                                        stratify=rest_y, random_state=seed)
    return (train_x, train_y), (feed_x, feed_y), (test_x, test_y)


class _Demo:
    def __init__(self, out_dir: Path, settings: DemoSettings, progress: ProgressFactory,
                 on_step: Callable[[DemoStep], None]):
        self.out_dir = Path(out_dir)
        self.settings = settings
        self.progress = progress
        self.on_step = on_step
        self.steps: list[DemoStep] = []
        self.figures: dict = {}  # what the report plots, filled as the steps run
        self.test_metrics: dict[str, dict] = {}  # model name -> accuracy, log-loss on the test rows

    # ---- helpers --------------------------------------------------------------------
    def estimator(self, seed_offset: int = 0):
        from .estimator import BayesianLogisticRegression

        s = self.settings
        return BayesianLogisticRegression(chains=s.chains, warmup=s.warmup, draws=s.draws,
                                          random_state=s.seed + seed_offset)

    def fit(self, description: str, X, y, seed_offset: int = 0):
        model = self.estimator(seed_offset)
        with self.progress(description) as bar:
            model.progress = bar
            model.fit(X, y, row_ids=list(X.index))
            model.progress = None
        return model

    def finish(self, step: DemoStep, start: float, caught) -> DemoStep:
        for w in caught:
            msg = str(w.message)
            if msg not in step.warnings:
                step.warnings.append(msg)
        step.seconds = time.perf_counter() - start
        self.steps.append(step)
        self.on_step(step)
        return step

    @contextmanager
    def step(self, key: str, title: str) -> Iterator[DemoStep]:
        import warnings

        step = DemoStep(key, title)
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warnings.filterwarnings("ignore", category=FutureWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            yield step
        self.finish(step, start, caught)

    # ---- the steps ------------------------------------------------------------------
    def run(self) -> list[DemoStep]:
        (train_x, train_y), (feed_x, feed_y), (test_x, test_y) = demo_splits(self.settings.seed)
        self.data = {"train": (train_x, train_y), "feedback": (feed_x, feed_y), "test": (test_x, test_y)}
        model = self.step_fit()
        self.step_forget_one(model)
        self.step_forget_batch(model)
        self.step_verify(model)
        corrupted, flipped = self.step_corrupt()
        self.step_repair(corrupted, flipped)
        return self.steps

    def step_fit(self):
        train_x, train_y = self.data["train"]
        test_x, test_y = self.data["test"]
        s = self.settings
        with self.step("fit", "1. Fit a Bayesian logistic regression by NUTS") as step:
            model = self.fit(f"NUTS {s.chains}×{s.draws} on {len(train_x)} rows", train_x, train_y)
            info = model.fit_info_
            self.test_metrics["clean labels"] = heldout_metrics(model, test_x, test_y)
            step.rows.append({
                "rows": len(train_x), "features": train_x.shape[1], "samples": model.posterior_.n_samples,
                "R-hat max": info["rhat_max"], "bulk ESS min": info["ess_bulk_min"],
                "divergences": info["divergences"], "test accuracy": model.score(test_x, test_y),
                "seconds": info["seconds"],
            })
            step.notes.append(f"Data: scikit-learn's Wisconsin breast-cancer set, 569 rows × 30 features, "
                              f"split 60/20/20 into {len(train_x)} training, {len(self.data['feedback'][0])} "
                              f"feedback and {len(test_x)} test rows (stratified, seed {s.seed}).")
        self.figures["original"] = model.posterior_
        self.figures["param_names"] = list(model.family_.param_names)
        return model

    def step_forget_one(self, model) -> None:
        train_x, _ = self.data["train"]
        test_x, test_y = self.data["test"]
        patient = str(train_x.index[0])
        with self.step("forget-one", f"2. A deletion request: forget patient row {patient}") as step:
            result = model.forget([patient])  # the default method: auto
            step.rows.append(forget_row(result) | {"test accuracy": model.score(test_x, test_y)})
            step.notes.append(f"method {result.method}: {result.reason}")
        self.figures["weights_after_one"] = model.posterior_.log_weights

    def step_forget_batch(self, model) -> None:
        from .unlearn import reweight_forget

        test_x, test_y = self.data["test"]
        rng = np.random.default_rng(self.settings.seed)
        remaining = [str(r) for r in model.row_ids_]
        n_batch = int(round(self.settings.large_batch_share * len(remaining)))
        batch = sorted(rng.choice(remaining, size=n_batch, replace=False).tolist(), key=int)
        title = f"3. A large deletion: forget {n_batch} more rows ({self.settings.large_batch_share:.0%})"
        # What reweighting alone would give, for the weights plot (auto decides on the same weights).
        position = {rid: j for j, rid in enumerate(remaining)}
        reweight_only, _ = reweight_forget(model.posterior_, [position[r] for r in batch])
        self.figures["weights_batch_reweight_only"] = reweight_only.log_weights
        with self.step("forget-batch", title) as step:
            with self.progress(f"forgetting {n_batch} rows (auto: reweight, else SMC, else refit)"):
                result = model.forget(batch, method="auto")
            step.rows.append(forget_row(result) | {"test accuracy": model.score(test_x, test_y)})
            step.notes.append(f"method {result.method}: {result.reason}")
            model_dir = self.out_dir / "model"
            model.save(model_dir)
            step.notes.append(f"Model saved to `{model_dir}`: try `bayes-unlearn info {model_dir}` "
                              f"or `bayes-unlearn verify {model_dir}`.")
        self.figures["forgotten"] = model.posterior_
        self.figures["ledger"] = list(model.ledger_)

    def step_verify(self, model) -> None:
        from .evaluate.fidelity import verify

        test_x, _ = self.data["test"]
        seed = self.settings.seed + 1
        with self.step("verify", "4. Verify against an exact refit without the forgotten rows") as step:
            with self.progress("two exact refits (NUTS): reference and noise floor") as bar:
                model.progress = bar
                report = verify(model, data=test_x, seed=seed)
                # verify's reference refit again (same seed, same samples) for the marginals plot
                self.figures["refit"] = model._sample_candidate_set(seed)[0]
                model.progress = None
            step.rows.append({
                "max |Δmean|/sd": report["max_mean_err_sd"], "noise floor": report["noise_floor_sd"],
                "sd ratio": f"{report['sd_ratio_min']:.2f}–{report['sd_ratio_max']:.2f}",
                "agreement": report["pred_agreement"], "max |Δp|": report["max_abs_dp"],
                "faithful": report["faithful"], "refit s": report["seconds_refit"],
            })
            verdict = report["verdict"]
            if "tolerance" not in verdict:
                verdict += f" (tolerance {report['tolerance_sd']:.2f} sd)"
            step.notes.append(f"{verdict}. The noise floor is the distance between two independent exact "
                              "refits; agreement and |Δp| are on the test rows.")

    def step_corrupt(self):
        from .evaluate.corruption import class_conditional_flips

        train_x, train_y = self.data["train"]
        test_x, test_y = self.data["test"]
        s = self.settings
        # Class 0 is "malignant": half of the malignant training tumours are relabelled benign.
        labels, changed = class_conditional_flips(train_y.to_numpy(), s.corrupted_share,
                                                  np.random.default_rng(s.seed), source=0, target=1)
        y_bad = pd.Series(labels, index=train_y.index, name=train_y.name)
        flipped = np.flatnonzero(changed)
        title = (f"5. Corrupt labels: {len(flipped)} of {int((train_y == 0).sum())} malignant training "
                 "rows relabelled benign")
        with self.step("corrupt", title) as step:
            model = self.fit(f"NUTS {s.chains}×{s.draws} on corrupted labels", train_x, y_bad, seed_offset=2)
            self.test_metrics["corrupted labels"] = heldout_metrics(model, test_x, test_y)
            for name, m in self.test_metrics.items():
                step.rows.append({"model": name, **m})
            step.notes.append("Class-conditional corruption: the kind of label error the influence "
                              "score r(z) can find (on random flips it cannot; see the README).")
        self.corrupted_labels = y_bad
        return model, dict(zip(map(str, train_x.index), changed))

    def step_repair(self, model, flipped: dict[str, bool]) -> None:
        from sklearn.metrics import roc_auc_score

        from .repair import repair, retrain_without

        feed_x, feed_y = self.data["feedback"]
        test_x, test_y = self.data["test"]
        s = self.settings
        title = f"6. Repair: find the causes of the failures on {len(feed_x)} feedback rows, forget them"
        with self.step("repair", title) as step:
            with self.progress("scoring training rows, choosing detector and K (cross-fitting)"):
                result = repair(model, feed_x, feed_y, detector="auto", select="auto", update=REPAIR_UPDATE,
                                seed=s.seed)
            truth = np.array([flipped[r] for r in result.row_ids])
            found = np.array([flipped[c] for c in result.causes], bool)
            step.rows.append({
                "failures |F|": result.n_failures, "detector": result.detector, "K": len(result.causes),
                "corrupted in C": int(found.sum()), "precision": float(found.mean()) if len(found) else None,
                "recall": float(found.sum() / truth.sum()), "AUROC": float(roc_auc_score(truth, result.all_scores)),
                "seconds": result.seconds,
            })
            choice = result.choice or {}
            step.notes.append(f"Detector and K chosen by {choice.get('folds', '?')}-fold cross-fitting on the "
                              f"feedback rows only (held-out log predictive {choice.get('heldout_loglik', 0):.3f} "
                              f"vs {choice.get('baseline_loglik', 0):.3f} without repair); posterior update "
                              f"with the failures by {result.update}. The test rows were never used.")
            if result.repaired_model is not None:
                forget = result.forget
                self.test_metrics["repaired (forget C)"] = heldout_metrics(result.repaired_model, test_x, test_y)
                step.notes.append(f"Forgetting C: method {forget['method']}, ESS {forget['ess']:.0f}, "
                                  f"Pareto k̂ {format_value(forget['pareto_k'])}, "
                                  f"{'reliable' if forget['reliable'] else 'UNRELIABLE'}.")
                with self.progress(f"exact retrain without the {len(result.causes)} causes (NUTS)") as bar:
                    model.progress = bar
                    retrained = retrain_without(model, result.causes, seed=s.seed + 3)
                    model.progress = None
                self.test_metrics["retrained without C"] = heldout_metrics(retrained, test_x, test_y)
            else:
                step.notes.append("No removal improved the feedback fit: nothing was forgotten.")
            for w in result.warnings:
                if w not in step.warnings:
                    step.warnings.append(w)
        with self.step("repair-outcome", "7. Test-set accuracy before and after the repair") as step:
            for name, m in self.test_metrics.items():
                step.rows.append({"model": name, **m})
            step.notes.append(f"{len(test_x)} held-out test rows, never used to find the failures or choose K.")
        self.figures["repair"] = {"scores": result.all_scores, "truth": truth, "detector": result.detector,
                                  "k": len(result.causes),
                                  "detector_scores": self.detector_scores(model, result), "truth_ids": result.row_ids}

    def detector_scores(self, model, result) -> dict[str, np.ndarray]:
        """Every detector's scores on the training rows, for the ROC plot (the chosen one is reused)."""
        from .evaluate.baselines import cleanlab_baseline
        from .inference.nuts import loglik_matrix
        from .predictive import predictive_means
        from .repair.detectors import DETECTORS, FeedbackContext, detector_scores
        from .repair.failures import failure_mask, feedback_arrays

        feed_x, feed_y = self.data["feedback"]
        X_v, y_v = feedback_arrays(model, feed_x, feed_y)
        post = model.posterior_
        mean = np.tensordot(post.weights, predictive_means(model.family_, post.flat_samples, X_v), axes=1)
        ctx = FeedbackContext(model, X_v, y_v, failure_mask(mean, y_v, model.family_.task),
                              loglik_matrix(model.family_, post.flat_samples, X_v, y_v), REPAIR_UPDATE,
                              self.settings.seed)
        scores = {}
        with self.progress("scoring every detector for the ROC plot"):
            for name in DETECTORS:
                scores[name] = (result.all_scores if name == result.detector
                                else detector_scores(ctx, name).scores)
            # cleanlab (optional extra) on the same rows, out-of-fold logistic-regression probabilities
            positions = {rid: j for j, rid in enumerate(map(str, self.data["train"][0].index))}
            order = [positions[r] for r in result.row_ids]
            train_x = self.data["train"][0].iloc[order]
            labels = self.corrupted_labels.iloc[order].to_numpy().astype(int)
            baseline = cleanlab_baseline(model._design(train_x), labels, seed=self.settings.seed)
            if baseline is not None:
                scores["cleanlab"] = baseline["scores"]
        return scores


REPAIR_UPDATE = "smc"  # posterior update with F in the demo: tempered SMC, far cheaper than a refit on D ∪ F


def heldout_metrics(model, X, y) -> dict:
    """Accuracy, F1 of the malignant class (0) and log-loss of the weighted posterior predictive."""
    from sklearn.metrics import f1_score

    from .repair import feedback_metrics

    m = feedback_metrics(model, model._design(X), model.target_encoding_.encode(y.reset_index(drop=True)))
    f1 = f1_score(np.asarray(y), model.predict(X).astype(np.asarray(y).dtype), pos_label=0)
    return {"accuracy": m["accuracy"], "F1 (malignant)": float(f1), "log-loss": m["log_loss"]}


def forget_row(result) -> dict:
    """The diagnostics of a ForgetResult as one table row."""
    return {"method": result.method, "forgotten": result.n_forgotten, "remaining": result.n_remaining,
            "ESS": result.ess, "Pareto k̂": result.pareto_k, "reliable": result.reliable,
            "seconds": result.seconds}


def run_demo(out_dir, settings: DemoSettings | None = None, progress: ProgressFactory | None = None,
             on_step: Callable[[DemoStep], None] | None = None) -> DemoOutcome:
    """Run every demo step, write the report into ``out_dir``, and return what happened."""
    start = time.perf_counter()
    from .report import prepare_output_dir

    out_dir = prepare_output_dir(out_dir)
    demo = _Demo(out_dir, settings or DemoSettings(), progress or _no_progress, on_step or (lambda s: None))
    demo.run()
    with demo.progress("writing the report and plots"):
        md_path, html_path = write_demo_report(demo)
    return DemoOutcome(demo.steps, md_path, html_path, time.perf_counter() - start)


def repair_section(rep: dict, out_dir: Path):
    from .report import Figure, Section, plot_influence, plot_roc

    names = {"influence": "influence r(z) (failures F)", "feedback": "r(z) from all feedback rows",
             "loo": "PSIS-LOO surprise (−elpd)", "combined": "combined rank (feedback r(z) and LOO)",
             "cleanlab": "cleanlab (1 − out-of-fold p(label))"}
    section = Section("Finding the corrupted rows")
    section.paragraphs.append(
        "Scores of every training row under the detectors (higher = more suspect), against the rows "
        "whose labels the demo corrupted. `influence` is the report's r(z) with the failure set F; "
        "`feedback` uses every feedback row; `loo` is the PSIS-LOO surprise of the row; `combined` "
        "averages the feedback and LOO ranks; cleanlab (when "
        "installed) scores 1 − p(given label) from 5-fold cross-validated logistic regression.")
    chosen = rep["detector"]
    # r(z) > 0 is the report's rule for the two influence scores; LOO and rank scores have no zero.
    cutoffs = {"r(z) > 0 (the report's rule)": 0.0} if chosen in ("influence", "feedback") else {}
    if rep["k"]:
        cutoffs[f"top-K cut-off (K = {rep['k']}, chosen on feedback)"] = float(np.sort(rep["scores"])[-rep["k"]])
    section.figures.append(Figure(
        plot_influence(rep["scores"], rep["truth"], out_dir / "influence.png", name=names.get(chosen, chosen),
                       cutoffs=cutoffs),
        f"Scores of the chosen detector ({chosen}) for corrupted and clean training rows."))
    roc = {names.get(k, k): v for k, v in rep["detector_scores"].items()}
    section.figures.append(Figure(plot_roc(roc, rep["truth"], out_dir / "roc.png"),
                                  "ROC curves: how well each detector ranks the corrupted rows first."))
    return section


def write_demo_report(demo: _Demo) -> tuple[Path, Path]:
    """One section per step (its table, notes, warnings), then the plots."""
    from .report import Section, marginals_section, write_report
    from .report import weights_section as make_weights_section

    sections = []
    for step in demo.steps:
        section = Section(step.title, tables=[step.rows] if step.rows else [], notes=list(step.notes))
        section.notes += [f"**Warning**: {w}" for w in step.warnings]
        sections.append(section)
    fig = demo.figures
    posteriors = {"original fit": fig["original"], "after forgetting": fig["forgotten"]}
    if "refit" in fig:
        posteriors["exact refit"] = fig["refit"]
    sections.append(marginals_section(posteriors, fig["param_names"], demo.out_dir,
                                      note="Original fit on all training rows; the posterior after both "
                                           "forget requests; an exact refit without the forgotten rows."))
    log_weights = {"1 row, reweighted": fig["weights_after_one"],
                   "large batch, reweighting alone": fig["weights_batch_reweight_only"]}
    if fig["ledger"][-1]["method"] != "reweight":
        log_weights[f"large batch, after {fig['ledger'][-1]['method']}"] = fig["forgotten"].log_weights
    sections.append(make_weights_section(log_weights, fig["ledger"], fig["forgotten"].n_samples, demo.out_dir))
    if "repair" in fig:
        sections.append(repair_section(fig["repair"], demo.out_dir))
    intro = (f"Generated by `bayes-unlearn demo` in {sum(s.seconds for s in demo.steps):.0f} s "
             f"({demo.settings.chains} chains × {demo.settings.draws} draws per fit"
             + (", quick mode: rough numbers" if demo.settings.draws < 200 else "") + ").")
    return write_report(demo.out_dir, "bayes-unlearn demo: forgetting and repair on breast-cancer data",
                        sections, intro=intro)


__all__ = ["DemoSettings", "DemoStep", "DemoOutcome", "run_demo", "demo_splits"]
