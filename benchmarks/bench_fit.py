"""Fit benchmark: the same Bayesian logistic regression by bayes-unlearn, PyMC, nutpie and NumPyro.

    .venv/bin/python benchmarks/bench_fit.py [--json] [--datasets pima,spambase] [--samplers ...]

Model (identical everywhere): y ~ Bernoulli(σ(b + Xw)), w ~ Normal(0, 1) on standardised
features, b ~ Normal(0, 5); 4 chains × (1000 warm-up + 1000 draws).
Data: Pima (zeros in data.PIMA_ZERO_MISSING → training median, standardised, 80 % train,
seeded shuffle) and spambase (standardised, 80 % train).

Every fit runs in a fresh subprocess, first with empty compilation caches ("cold", seed 0), then
again with the caches it left ("warm"), for seeds 0..N-1 (``--seeds``, default 5: the minimum bulk
ESS of one seed varies by ±10 % on spambase), the samplers taking turns so that each meets the
machine's slow and fast spells alike: JAX's persistent cache (ours and NumPyro's), PyTensor's
compile dir and Numba's cache (PyMC, nutpie). "wall" is from the subprocess launch to the
draws being in numpy arrays (interpreter start, imports, compilation, sampling); min bulk ESS
(ArviZ) is computed afterwards and not timed. ESS/s = min bulk ESS / wall.

Arithmetic floor: one log-density gradient on the data (JAX, float32, measured inside a
compiled loop so that no dispatch is counted) × the gradient evaluations the sampler made
(warm-up included) ÷ the chains that can run at once (min(chains, cores)). Each sampler's
``x_floor`` is its wall / that floor.

With --json the last stdout line is one JSON object with every measurement and
``ratio_vs_best_peer``: our mean warm ESS/s ÷ the best peer's, the smaller over data sets.

Peers run with their own defaults: importing bayes_unlearn sets XLA options in the environment
(host devices, while loops compiled whole), and the workers get the XLA_FLAGS this script was
started with instead. "numpyro-parallel-whole-loops" is NumPyro with our while-loop option, to
show what that XLA setting alone does for it; it is reported, not counted as a peer.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CHAINS, WARMUP, DRAWS, SEED = 4, 1000, 1000, 0
FIT_SEED = 0  # the sampler's seed; a worker sets it (the data split keeps SEED)
SAMPLERS = ("bayes-unlearn", "bayes-unlearn-estimator", "numpyro", "numpyro-parallel",
            "numpyro-parallel-whole-loops", "pymc", "nutpie")
OURS = "bayes-unlearn"
PEERS = ("numpyro", "numpyro-parallel", "pymc", "nutpie")  # with their own defaults: the ratio's peers
# XLA_FLAGS as this process got them: importing bayes_unlearn (prepare_data) adds our own XLA
# options to the environment, and the peers' workers must run without them.
USER_XLA_FLAGS = os.environ.get("XLA_FLAGS")
DATASETS = ("pima", "spambase")
REPO = Path(__file__).resolve().parents[1]


# ---- data (prepared once by the parent, read by every worker) ---------------------------------
def prepare_data(name: str, out: Path) -> Path:
    import pandas as pd

    sys.path.insert(0, str(REPO / "src"))
    from bayes_unlearn.data import PIMA_ZERO_MISSING, FeatureTransform, find_shared_data

    if name == "pima":
        path, target, impute = find_shared_data("pima-indians-diabetes.csv"), "Outcome", PIMA_ZERO_MISSING
    elif name == "spambase":
        path, target, impute = find_shared_data("spambase.csv"), "target", []
    else:
        raise SystemExit(f"unknown data set {name}")
    if path is None:
        raise FileNotFoundError(f"{name}: data file not found (set BAYES_UNLEARN_DATA_DIR)")
    frame = pd.read_csv(path)
    order = np.random.default_rng(SEED).permutation(len(frame))
    train = frame.iloc[order[: int(0.8 * len(frame))]]
    features = train.drop(columns=[target])
    transform = FeatureTransform.fit(features, impute)  # medians and scales from train rows only
    X = transform.transform(features)
    y = train[target].to_numpy().astype(float)
    file = out / f"{name}.npz"
    np.savez(file, X=X, y=y)
    return file


# ---- workers: one fit in this fresh process, print one JSON line ------------------------------
def worker(sampler: str, data_file: str, launched: float, seed: int = 0) -> dict:
    global FIT_SEED
    FIT_SEED = seed
    data = np.load(data_file)
    X, y = data["X"], data["y"]
    out = {"sampler": sampler, "seed": seed}
    samples, grads = globals()["_fit_" + sampler.replace("-", "_")](X, y, out)
    out["wall"] = time.time() - launched
    out["ess_bulk_min"] = min_bulk_ess(samples)
    out["gradient_evaluations"] = grads
    return out


def _fit_bayes_unlearn(X, y, out):
    from bayes_unlearn.inference.nuts import sample_nuts
    from bayes_unlearn.models import logistic_family

    family = logistic_family(X.shape[1])
    result = sample_nuts(family, X, y, chains=CHAINS, warmup=WARMUP, draws=DRAWS, seed=FIT_SEED)
    out["sampling_seconds"] = result.seconds
    out["divergences"] = int(result.divergent.sum())
    return result.samples, result.n_gradient_evaluations_total


def _fit_bayes_unlearn_estimator(X, y, out):
    """The user-facing path: estimator fit incl. the loglik matrix and convergence summary."""
    from bayes_unlearn import BayesianLogisticRegression

    model = BayesianLogisticRegression(chains=CHAINS, warmup=WARMUP, draws=DRAWS, random_state=FIT_SEED)
    model.fit(X, y)
    out["sampling_seconds"] = model.fit_info_["seconds"]
    return model.posterior_.samples, None


def _fit_numpyro(X, y, out, chain_method: str = "vectorized", devices: int | None = None):
    """NumPyro NUTS, chains vectorised on one device: faster here than its default, which with
    one device per core runs 4 chains on 2 cores one after another."""
    import numpyro

    numpyro.set_host_device_count(devices or os.cpu_count() or 1)
    import jax
    import numpyro.distributions as dist
    from numpyro.infer import MCMC, NUTS

    def model(X, y):
        b = numpyro.sample("b", dist.Normal(0.0, 5.0))
        w = numpyro.sample("w", dist.Normal(0.0, 1.0).expand([X.shape[1]]))
        numpyro.sample("y", dist.Bernoulli(logits=b + X @ w), obs=y)

    start = time.perf_counter()
    Xj, yj = jax.numpy.asarray(X, "float32"), jax.numpy.asarray(y, "float32")
    mcmc = MCMC(NUTS(model), num_warmup=WARMUP, num_samples=DRAWS, num_chains=CHAINS,
                chain_method=chain_method, progress_bar=False)
    mcmc.run(jax.random.PRNGKey(FIT_SEED), Xj, yj, extra_fields=("num_steps",))
    draws = mcmc.get_samples(group_by_chain=True)
    samples = np.concatenate([np.asarray(draws["b"])[..., None], np.asarray(draws["w"])], axis=-1)
    out["sampling_seconds"] = time.perf_counter() - start
    steps = int(np.asarray(mcmc.get_extra_fields()["num_steps"]).sum())
    out["_timed_until"] = time.time()
    # Warm-up gradients, counted by re-running the warm-up alone (not timed).
    counter = MCMC(NUTS(model), num_warmup=WARMUP, num_samples=DRAWS, num_chains=CHAINS,
                   chain_method=chain_method, progress_bar=False)
    counter.warmup(jax.random.PRNGKey(FIT_SEED), Xj, yj, extra_fields=("num_steps",), collect_warmup=True)
    steps += int(np.asarray(counter.get_extra_fields()["num_steps"]).sum())
    return samples, steps


def _fit_numpyro_parallel_whole_loops(X, y, out):
    """NumPyro parallel with the XLA option we set for ourselves (``_runtime.request_whole_loop_kernels``):
    not its default, so reported beside the peers but not one of them."""
    from bayes_unlearn._runtime import request_whole_loop_kernels

    request_whole_loop_kernels()
    return _fit_numpyro_parallel(X, y, out)


def _fit_numpyro_parallel(X, y, out):
    """NumPyro at its best here: one host device per chain (as we use), chains in parallel.

    With its defaults (one device per core) 4 chains on 2 cores would fall back to running one
    after another; "vectorized" (the "numpyro" row) was faster than that, this is faster still.
    """
    return _fit_numpyro(X, y, out, chain_method="parallel", devices=max(CHAINS, os.cpu_count() or 1))


def _pymc_model(X, y):
    import pymc as pm

    with pm.Model() as model:
        b = pm.Normal("b", 0.0, 5.0)
        w = pm.Normal("w", 0.0, 1.0, shape=X.shape[1])
        pm.Bernoulli("y", logit_p=b + pm.math.dot(X, w), observed=y)
    return model


def _posterior_array(idata) -> np.ndarray:
    post = idata.posterior
    return np.concatenate([post["b"].values[..., None], post["w"].values], axis=-1)


def _n_steps(idata) -> int | None:
    total = 0
    for group in ("warmup_sample_stats", "sample_stats"):
        stats = getattr(idata, group, None)
        if stats is None or "n_steps" not in stats:
            return None
        total += int(np.asarray(stats["n_steps"]).sum())
    return total


def _fit_pymc(X, y, out):
    import pymc as pm

    start = time.perf_counter()
    with _pymc_model(X, y):
        idata = pm.sample(draws=DRAWS, tune=WARMUP, chains=CHAINS, random_seed=FIT_SEED,
                          progressbar=False, compute_convergence_checks=False,
                          discard_tuned_samples=False)
    samples = _posterior_array(idata)
    out["sampling_seconds"] = time.perf_counter() - start
    return samples, _n_steps(idata)


def _fit_nutpie(X, y, out):
    import nutpie

    start = time.perf_counter()
    compiled = nutpie.compile_pymc_model(_pymc_model(X, y))
    idata = nutpie.sample(compiled, draws=DRAWS, tune=WARMUP, chains=CHAINS, seed=FIT_SEED,
                          progress_bar=False, save_warmup=True)
    samples = _posterior_array(idata)
    out["sampling_seconds"] = time.perf_counter() - start
    return samples, _n_steps(idata)


def min_bulk_ess(samples) -> float:
    import arviz as az

    ds = az.convert_to_dataset({"theta": np.asarray(samples)}, dims={"theta": ["param"]})
    return float(np.nanmin(az.ess(ds, method="bulk")["theta"].values))


def gradient_seconds(data_file: str, repeats: int = 2000) -> float:
    """One log-density gradient on the data (float32), timed inside one compiled loop."""
    import jax
    import jax.numpy as jnp

    sys.path.insert(0, str(REPO / "src"))
    from bayes_unlearn.models import logistic_family

    data = np.load(data_file)
    X, y = jnp.asarray(data["X"], jnp.float32), jnp.asarray(data["y"], jnp.float32)
    family = logistic_family(X.shape[1])
    mask = jnp.ones(X.shape[0], jnp.float32)
    grad = jax.grad(lambda t: family.log_joint(t, X, y, mask))

    @jax.jit
    def many(theta):
        # each step depends on the last, so nothing is hoisted or skipped
        return jax.lax.fori_loop(0, repeats, lambda i, t: t + 1e-6 * grad(t), theta)

    theta = jnp.zeros(family.n_params, jnp.float32)
    many(theta).block_until_ready()
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        many(theta).block_until_ready()
        best = min(best, time.perf_counter() - start)
    return best / repeats


# ---- the parent: run every worker in a fresh process ------------------------------------------
def available(sampler: str) -> str | None:
    """None if the sampler can run here, else why not."""
    import importlib.util

    needs = {"numpyro": ["numpyro"], "numpyro-parallel": ["numpyro"], "numpyro-parallel-whole-loops": ["numpyro"],
             "pymc": ["pymc"], "nutpie": ["nutpie", "pymc"]}.get(sampler, [])
    missing = [m for m in needs if importlib.util.find_spec(m) is None]
    return f"not installed: {', '.join(missing)} (pip install -e '.[bench]')" if missing else None


def run_worker(sampler: str, data_file: Path, env: dict, timeout: float, seed: int = 0) -> dict:
    launched = time.time()
    cmd = [sys.executable, __file__, "--worker", sampler, str(data_file), repr(launched), str(seed)]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"sampler": sampler, "error": f"timed out after {timeout:.0f} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"sampler": sampler, "error": f"exit {proc.returncode}: {tail[:300]}"}
    result = json.loads(lines[-1])
    if "_timed_until" in result:  # numpyro: untimed gradient counting ran after the fit
        result["wall"] = result.pop("_timed_until") - launched
    return result


def cache_env(cache_root: Path) -> dict:
    """Environment whose compilation caches all live under ``cache_root`` (empty = cold)."""
    env = dict(os.environ)
    env.pop("XLA_FLAGS", None)
    if USER_XLA_FLAGS is not None:
        env["XLA_FLAGS"] = USER_XLA_FLAGS
    env["BAYES_UNLEARN_CACHE_DIR"] = str(cache_root / "bayes-unlearn")
    env["JAX_COMPILATION_CACHE_DIR"] = str(cache_root / "jax")  # NumPyro: same cache as ours
    env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    env["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "-1"
    env["PYTENSOR_FLAGS"] = f"compiledir={cache_root / 'pytensor'}"
    env["NUMBA_CACHE_DIR"] = str(cache_root / "numba")
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def summarise(rows: list[dict], grad_s: dict) -> dict:
    n_parallel = min(CHAINS, os.cpu_count() or 1)
    for r in rows:
        if "error" in r:
            continue
        r["ess_per_s"] = r["ess_bulk_min"] / r["wall"]
        if r.get("gradient_evaluations"):
            floor = grad_s[r["dataset"]] * r["gradient_evaluations"] / n_parallel
            r["floor_seconds"] = floor
            r["x_floor_wall"] = r["wall"] / floor
            r["x_floor_sampling"] = r["sampling_seconds"] / floor
    ratios, warm = {}, {}
    for ds in sorted({r["dataset"] for r in rows}):
        for sampler in sorted({r["sampler"] for r in rows}):  # peers and reported-only runs
            hit = [r for r in rows if r["dataset"] == ds and r["sampler"] == sampler
                   and r["phase"] == "warm" and "ess_per_s" in r]
            if hit:
                values = np.array([r["ess_per_s"] for r in hit])
                warm[f"{ds} {sampler}"] = {
                    "dataset": ds, "sampler": sampler, "n": len(hit), "ess_per_s_mean": float(values.mean()),
                    "ess_per_s_sd": float(values.std(ddof=1)) if len(hit) > 1 else 0.0,
                    "wall_mean": float(np.mean([r["wall"] for r in hit])),
                    "ess_mean": float(np.mean([r["ess_bulk_min"] for r in hit]))}
        ours = warm.get(f"{ds} {OURS}")
        peers = {p: warm[f"{ds} {p}"]["ess_per_s_mean"] for p in PEERS if f"{ds} {p}" in warm}
        for r in rows:
            if r["dataset"] == ds and "ess_per_s" in r and ours:
                r["ours_over_this"] = ours["ess_per_s_mean"] / r["ess_per_s"]
        if ours and peers:
            best = max(peers, key=peers.get)
            ratios[ds] = {"best_peer": best, "ratio": ours["ess_per_s_mean"] / peers[best]}
    return {
        "model": "logistic regression, Normal(0,1) weights, Normal(0,5) intercept",
        "chains": CHAINS, "warmup": WARMUP, "draws": DRAWS, "cores": os.cpu_count(),
        "gradient_seconds": grad_s, "runs": rows, "warm": warm, "ratios": ratios,
        "ratio_vs_best_peer": min((v["ratio"] for v in ratios.values()), default=None),
    }


def print_table(summary: dict, skipped: dict) -> None:
    print(f"{'data':9} {'sampler':24} {'phase':5} {'seed':>4} {'wall s':>7} {'sample s':>8} {'ESS':>6} "
          f"{'ESS/s':>8} {'ours÷':>6} {'grads':>7} {'×floor':>7}")
    for r in summary["runs"]:
        if "error" in r:
            print(f"{r['dataset']:9} {r['sampler']:24} {r['phase']:5} ERROR {r['error']}")
            continue
        grads = r.get("gradient_evaluations")
        print(f"{r['dataset']:9} {r['sampler']:24} {r['phase']:5} {r.get('seed', 0):4d} {r['wall']:7.2f} "
              f"{r.get('sampling_seconds', float('nan')):8.2f} {r['ess_bulk_min']:6.0f} "
              f"{r['ess_per_s']:8.1f} {r.get('ours_over_this', float('nan')):6.2f} "
              f"{grads if grads else '-':>7} {r.get('x_floor_wall', float('nan')):7.1f}")
    for ds, g in summary["gradient_seconds"].items():
        print(f"gradient on {ds}: {g * 1e6:.2f} µs (float32, compiled loop)")
    for w in summary["warm"].values():
        print(f"{w['dataset']:9} {w['sampler']:24} warm, {w['n']} seeds: ESS/s {w['ess_per_s_mean']:.0f} "
              f"± {w['ess_per_s_sd']:.0f} (wall {w['wall_mean']:.2f} s, ESS {w['ess_mean']:.0f})")
    for ds, v in summary["ratios"].items():
        print(f"{ds}: mean warm ESS/s ours ÷ best peer ({v['best_peer']}) = {v['ratio']:.2f}")
    for sampler, why in skipped.items():
        print(f"skipped {sampler}: {why}")
    print(f"ratio_vs_best_peer = {summary['ratio_vs_best_peer']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="last stdout line: one JSON object")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--samplers", default=",".join(SAMPLERS))
    parser.add_argument("--phases", default="cold,warm")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per fit")
    parser.add_argument("--seeds", type=int, default=5,
                        help="warm fits per sampler, seeds 0..N-1, interleaved across samplers (default 5)")
    parser.add_argument("--worker", nargs=4, metavar=("SAMPLER", "DATA", "LAUNCHED", "SEED"), help=argparse.SUPPRESS)
    parser.add_argument("--gradient", metavar="DATA", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        sampler, data_file, launched, seed = args.worker
        print(json.dumps(worker(sampler, data_file, float(launched), int(seed))))
        return
    if args.gradient:
        print(json.dumps({"seconds": gradient_seconds(args.gradient)}))
        return

    samplers = [s for s in args.samplers.split(",") if s]
    skipped = {s: why for s in samplers if (why := available(s))}
    samplers = [s for s in samplers if s not in skipped]
    phases = [p for p in args.phases.split(",") if p]
    rows, grad_s = [], {}
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-fit-") as tmp:
        tmp = Path(tmp)
        for ds in [d for d in args.datasets.split(",") if d]:
            data_file = prepare_data(ds, tmp)
            proc = subprocess.run([sys.executable, __file__, "--gradient", str(data_file)],
                                  env=cache_env(tmp / f"caches-{ds}-gradient"),
                                  capture_output=True, text=True, check=True)
            grad_s[ds] = json.loads(proc.stdout.splitlines()[-1])["seconds"]
            envs = {s: cache_env(tmp / f"caches-{ds}-{s}") for s in samplers}  # empty: the first run is cold
            # cold (seed 0), then the warm seeds round-robin over the samplers, so that every
            # sampler meets the machine's slow and fast spells alike
            runs = [("cold", s, 0) for s in samplers] if "cold" in phases else []
            if "warm" in phases:
                if "cold" not in phases:
                    runs += [("warm-up run", s, 0) for s in samplers]  # fills the caches, not reported
                runs += [("warm", s, seed) for seed in range(args.seeds) for s in samplers]
            for phase, sampler, seed in runs:
                row = run_worker(sampler, data_file, envs[sampler], args.timeout, seed)
                row.update(dataset=ds, phase=phase)
                print(f"# {ds} {sampler} {phase} seed {seed}: "
                      + (f"{row['wall']:.2f} s, ESS {row['ess_bulk_min']:.0f}" if "wall" in row
                         else row["error"]), file=sys.stderr, flush=True)
                if phase != "warm-up run":
                    rows.append(row)
    summary = summarise(rows, grad_s)
    summary["skipped"] = skipped
    summary["load_average_1min_at_start"] = load
    summary["load_average_1min_at_end"] = os.getloadavg()[0]
    print_table(summary, skipped)
    if args.json:
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
