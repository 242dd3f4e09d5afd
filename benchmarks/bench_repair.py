"""Repair benchmark (issue 4): detection AUROC and held-out quality after repair, three-way protocol.

    .venv/bin/python benchmarks/bench_repair.py [--seeds 5] [--quick] [--json] [--datasets pima,spambase]
        [--corruptions random-10,...] [--out results.json]

For every data set × corruption family × seed: split train/feedback/test (60/20/20, stratified),
corrupt the training labels, fit Bayesian logistic regression by NUTS, run the automatic repair
(detector and K chosen on the feedback rows only), and score on the test rows: the corrupted model,
the repair (forget, and retrain on D \\ C), cleanlab's flagged rows removed, as many random rows
removed, and the oracle. Prints mean ± sd over seeds; ``--json`` prints one JSON object.
Spambase uses fewer chains/draws (2 × 300, warm-up 300) and 2 folds, to keep the run < ~30 min.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace

from bayes_unlearn.evaluate.corruption import CORRUPTIONS
from bayes_unlearn.evaluate.repair_study import (
    StudyConfig,
    load_study_data,
    run_three_way,
    summarize,
)

CONFIGS = {
    "pima": StudyConfig(chains=4, draws=500, warmup=500, update="refit", folds=3),
    "spambase": StudyConfig(chains=2, draws=300, warmup=300, update="refit", folds=2),
}
QUICK = {"chains": 2, "draws": 200, "warmup": 200}


def fmt(mean, sd, digits=3):
    if mean is None:
        return "—"
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"


def print_table(rows, stream=sys.stdout):
    current = None
    for row in rows:
        key = (row["dataset"], row["corruption"])
        if key != current:
            current = key
            print(f"\n## {row['dataset']} · {row['corruption']} ({row['n_seeds']} seeds)", file=stream)
            print(f"{'method':24s} {'accuracy':>15s} {'F1':>15s} {'log-loss':>15s} {'AUROC':>15s} "
                  f"{'precision':>15s} {'recall':>15s} {'|removed|':>10s}", file=stream)
        n_removed = "" if row.get("n_removed") is None else f"{row['n_removed']:.0f}"
        print(f"{row['method']:24s} {fmt(row.get('accuracy'), row.get('accuracy_sd')):>15s} "
              f"{fmt(row.get('f1'), row.get('f1_sd')):>15s} {fmt(row.get('log_loss'), row.get('log_loss_sd')):>15s} "
              f"{fmt(row.get('auroc'), row.get('auroc_sd')):>15s} "
              f"{fmt(row.get('precision'), row.get('precision_sd')):>15s} "
              f"{fmt(row.get('recall'), row.get('recall_sd')):>15s} {n_removed:>10s}", file=stream)


def check_targets(records, rows) -> list[dict]:
    """The issue's targets, per (data set, corruption): pass/fail with the numbers behind them."""
    out = []
    by = {(r["dataset"], r["corruption"], r["method"]): r for r in rows}
    for dataset, corruption in dict.fromkeys((r["dataset"], r["corruption"]) for r in rows):
        auto = by.get((dataset, corruption, "auto (forget)"), {})
        corrupted = by.get((dataset, corruption, "corrupted"), {})
        cl = by.get((dataset, corruption, "cleanlab (retrain)"), {})
        cl_auc = by.get((dataset, corruption, "detector:cleanlab"), {}).get("auroc")
        t = {"dataset": dataset, "corruption": corruption, "auto_auroc": auto.get("auroc"), "cleanlab_auroc": cl_auc,
             "auto_accuracy": auto.get("accuracy"), "corrupted_accuracy": corrupted.get("accuracy"),
             "cleanlab_accuracy": cl.get("accuracy")}
        t["auroc_ge_cleanlab"] = None if cl_auc is None or t["auto_auroc"] is None else t["auto_auroc"] >= cl_auc
        if corruption == "class-conditional" and t["auto_auroc"] is not None:
            t["auroc_ge_0.85"] = t["auto_auroc"] >= 0.85
        if t["auto_accuracy"] is not None:
            t["acc_ge_corrupted"] = t["auto_accuracy"] >= t["corrupted_accuracy"]
            t["acc_ge_cleanlab"] = None if t["cleanlab_accuracy"] is None else t["auto_accuracy"] >= t["cleanlab_accuracy"]
        out.append(t)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 seeds, Pima only, 2 × 200 draws: a smoke run")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--datasets", default="pima,spambase")
    parser.add_argument("--corruptions", default=",".join(CORRUPTIONS))
    parser.add_argument("--out", help="also write the JSON object to this file")
    args = parser.parse_args(argv)
    datasets = ["pima"] if args.quick else args.datasets.split(",")
    seeds = min(args.seeds, 2) if args.quick else args.seeds
    corruptions = args.corruptions.split(",")
    records, start = [], time.perf_counter()
    log = sys.stderr
    for name in datasets:
        data = load_study_data(name)
        config = replace(CONFIGS[name], **QUICK) if args.quick else CONFIGS[name]
        clean_cache: dict = {}
        for corruption in corruptions:
            for seed in range(seeds):
                rec = run_three_way(data, corruption, seed, config, clean_cache)
                records.append(rec)
                auto = rec.methods.get("auto (forget)", {})
                print(f"[{time.perf_counter() - start:7.0f}s] {name} {corruption} seed {seed}: "
                      f"auto {rec.auto.get('detector')} K={rec.auto.get('k')} AUROC {auto.get('auroc', float('nan')):.3f} "
                      f"acc {auto.get('accuracy', float('nan')):.3f} (corrupted {rec.methods['corrupted']['accuracy']:.3f}, "
                      f"cleanlab AUROC {rec.detectors.get('cleanlab', float('nan')):.3f}) {rec.seconds:.0f}s",
                      file=log, flush=True)
    rows = summarize(records)
    targets = check_targets(records, rows)
    payload = {"configs": {n: (replace(CONFIGS[n], **QUICK) if args.quick else CONFIGS[n]).to_dict() for n in datasets},
               "seeds": seeds, "seconds": time.perf_counter() - start, "summary": rows, "targets": targets,
               "records": [r.to_dict() for r in records]}
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(payload, fh, indent=1, default=float)
    if args.json:
        print(json.dumps(payload, default=float))
    else:
        print_table(rows)
        print("\n## targets")
        for t in targets:
            print(json.dumps(t, default=float))
        print(f"\ntotal {payload['seconds']:.0f} s")


if __name__ == "__main__":
    main()
