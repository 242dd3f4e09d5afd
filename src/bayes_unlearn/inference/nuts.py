"""NUTS over all chains at once (BlackJAX NUTS, dense metric, Laplace start), fixed array shapes.

Warm-up starts every chain at a draw from the Laplace approximation of the posterior and uses
its covariance as the metric, then re-estimates the metric once from its own draws; only the
step size is adapted step by step (dual averaging). Compared with BlackJAX's diagonal window
adaptation from a point near 0 this halved the leapfrog steps per draw on spambase (31 → 15)
and the warm-up's gradients (30k → 19k per chain); see docs/methods.md.

The data enter the compiled functions as arguments, together with a 0/1 row mask, so a
refit on fewer rows (the same arrays, some mask entries zeroed) reuses the compiled code.
Chains are vectorised with vmap and, when XLA exposes several CPU devices, split across
them with shard_map so that they run on all cores.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from .._runtime import configure_jax

configure_jax()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from jax.sharding import Mesh, NamedSharding, PartitionSpec  # noqa: E402

from ..models.base import ModelFamily  # noqa: E402
from . import export_cache  # noqa: E402
from .laplace import laplace_approximation  # noqa: E402


@dataclass(frozen=True)
class NutsResult:
    samples: np.ndarray  # (chains, draws, d)
    step_size: np.ndarray  # (chains,)
    inverse_mass_matrix: np.ndarray  # (chains, d, d)
    num_integration_steps: np.ndarray  # (chains, draws)
    divergent: np.ndarray  # (chains, draws)
    acceptance_rate: np.ndarray  # (chains, draws)
    seconds: float
    warmup_integration_steps: np.ndarray | None = None  # (chains,) leapfrog steps in warm-up

    @property
    def n_gradient_evaluations(self) -> int:
        """Leapfrog steps (one log-density gradient each) of the kept draws."""
        return int(self.num_integration_steps.sum())

    @property
    def n_gradient_evaluations_total(self) -> int:
        """Including warm-up: all the gradients the fit computed."""
        warm = 0 if self.warmup_integration_steps is None else int(self.warmup_integration_steps.sum())
        return warm + self.n_gradient_evaluations


def family_signature(family: ModelFamily) -> tuple:
    """What determines the compiled code of a family: its name, sizes and hyper-parameters."""
    return (family.name, family.n_features, family.n_classes, family.n_params,
            tuple(sorted(family.hyperparameters.items())))


def _chain_split(n_chains: int) -> int:
    """Number of devices to spread the chains over (1 means plain vmap)."""
    n_dev = jax.local_device_count()
    for k in range(min(n_dev, n_chains), 0, -1):
        if n_chains % k == 0:
            return k
    return 1


def _chain_mesh(n_split: int) -> Mesh | None:
    return None if n_split == 1 else Mesh(np.array(jax.local_devices()[:n_split]), ("chain",))


def _jit_over_chains(fn: Callable, mesh: Mesh | None, n_chains: int, n_batched: int,
                     n_shared: int, key_from: Callable) -> Callable:
    """Jitted ``(key, *scalars, *batched, *data) -> fn`` vmapped over chains, sharded over ``mesh``.

    ``key_from(key, *scalars)`` gives the key that is split into one key per chain inside the
    compiled function, so a call needs no eager JAX op beforehand. ``fn`` takes a chain key,
    ``n_batched`` per-chain arguments and ``n_shared`` data arguments (the same for every
    chain). Shardings are explicit so that the function can be exported and called back in
    the same multi-device context.
    """
    in_axes = (0,) * (1 + n_batched) + (None,) * n_shared
    per_chain = jax.vmap(fn, in_axes=in_axes)
    if mesh is not None:
        specs = (PartitionSpec("chain"),) * (1 + n_batched) + (PartitionSpec(),) * n_shared
        per_chain = jax.shard_map(per_chain, mesh=mesh, in_specs=specs,
                                  out_specs=PartitionSpec("chain"), check_vma=False)
    n_scalars = key_from.__code__.co_argcount - 1

    def run(key, *args):
        scalars, rest = args[:n_scalars], args[n_scalars:]
        return per_chain(jax.random.split(key_from(key, *scalars), n_chains), *rest)

    if mesh is None:
        return jax.jit(run)
    replicated = NamedSharding(mesh, PartitionSpec())
    chained = NamedSharding(mesh, PartitionSpec("chain"))
    return jax.jit(run, in_shardings=(replicated,) * (1 + n_scalars) + (chained,) * n_batched
                   + (replicated,) * n_shared, out_shardings=chained)


# Warm-up: the first half runs with the starting metric (the Laplace covariance, or the one
# given for a warm start); the second half with the covariance of the first half's last three
# quarters of draws, shrunk toward the starting metric by this many pseudo-draws (it keeps the
# estimate positive definite when there are fewer draws than parameters), averaged over the
# chains (``pooled_over_chains``).
METRIC_PSEUDO_DRAWS = 20.0
TARGET_ACCEPTANCE = 0.8
INITIAL_STEP_SIZE = 0.5  # in whitened coordinates, where the posterior has unit scale


def whitened(logdensity: Callable, chol) -> Callable:
    """z ↦ log p(L z). NUTS with a unit metric on z is NUTS with inverse mass matrix L Lᵀ on θ.

    Written this way because BlackJAX's dense metric multiplies by the matrix several times per
    leapfrog step (kinetic energy, every U-turn check), which measured 40 % slower per gradient
    on spambase than one L z inside the log-density.
    """
    return lambda z: logdensity(chol @ z)


def shrunk_covariance(draws, prior_covariance, pseudo_draws: float | None = None, weights=None):
    """Sample covariance of ``draws`` (n, d) pulled toward ``prior_covariance`` by ``pseudo_draws``
    (default ``METRIC_PSEUDO_DRAWS``); ``weights`` (n,) of 0/1 pick the rows to use."""
    pseudo_draws = METRIC_PSEUDO_DRAWS if pseudo_draws is None else pseudo_draws
    weights = jnp.ones(draws.shape[0], draws.dtype) if weights is None else weights
    n = jnp.sum(weights)
    centred = draws - (weights @ draws) / jnp.maximum(n, 1)
    sample = (centred * weights[:, None]).T @ centred / jnp.maximum(n - 1, 1)
    return (n * sample + pseudo_draws * prior_covariance) / (n + pseudo_draws)


def pooled_over_chains(metrics: np.ndarray) -> np.ndarray:
    """Every chain's (d, d) metric replaced by the chains' mean: the pooled within-chain estimate.

    One chain's 375 warm-up draws estimate a 58 × 58 covariance noisily; four chains pool four
    times as many. Measured on spambase (4 seeds): min bulk ESS 2949 → 3300, gradients
    136k → 130k. The chains share only the metric, and only from the second warm-up stage on.
    """
    return np.ascontiguousarray(np.broadcast_to(metrics.mean(axis=0), metrics.shape))


def _nuts_kernel(target: Callable, step_size, d: int, dtype):
    import blackjax

    return blackjax.nuts(target, step_size=step_size, inverse_mass_matrix=jnp.ones(d, dtype))


def nuts_stage(logdensity: Callable, position, metric, step_size, rng_key, n_steps: int, n_active, adapt):
    """One stage of a fit: ``n_steps`` NUTS iterations, of which only the last ``n_active`` move.

    The inverse mass matrix ``metric`` is applied by whitening. With ``adapt`` the step size
    follows dual averaging (warm-up) and comes back adapted; without, it stays fixed (sampling).
    Warm-up and sampling share this loop, so a compiled fit holds one copy of NUTS. Inactive
    iterations are skipped (``lax.cond``) and repeat the start. Returns (last position, step
    size, positions (n_steps, d), leapfrog steps, divergent, acceptance rate) per iteration.
    """
    from blackjax.adaptation.step_size import dual_averaging_adaptation

    chol = jnp.linalg.cholesky(metric)
    target = whitened(logdensity, chol)
    d = position.shape[0]
    da_init, da_update, da_final = dual_averaging_adaptation(TARGET_ACCEPTANCE)
    z0 = jax.scipy.linalg.solve_triangular(chol, position, lower=True)

    def one_step(carry, inputs):
        state, da_state = carry
        key, index = inputs

        def move(_):
            eps = jnp.where(adapt, jnp.exp(da_state.log_step_size), step_size)
            moved, info = _nuts_kernel(target, eps, d, position.dtype).step(key, state)
            tuned = jax.tree.map(lambda new, old: jnp.where(adapt, new, old),
                                 da_update(da_state, info.acceptance_rate), da_state)
            return (moved, tuned), (moved.position, info.num_integration_steps.astype(jnp.int32),
                                    info.is_divergent, info.acceptance_rate.astype(position.dtype))

        def stay(_):
            return (state, da_state), (state.position, jnp.int32(0), jnp.bool_(False),
                                       jnp.zeros((), position.dtype))

        return jax.lax.cond(index >= n_steps - n_active, move, stay, None)

    start = _nuts_kernel(target, step_size, d, position.dtype).init(z0)
    inputs = (jax.random.split(rng_key, n_steps), jnp.arange(n_steps))
    (state, da_state), (zs, n_leapfrog, divergent, accept) = jax.lax.scan(
        one_step, (start, da_init(step_size)), inputs)
    adapted = jnp.where(adapt & (n_active > 0), da_final(da_state), step_size)
    return chol @ state.position, adapted, zs @ chol.T, n_leapfrog, divergent, accept


_compiled: dict = {}


def _runner(family: ModelFamily, n_chains: int, stage_length: int, data_shape: tuple, start_at_laplace: bool):
    """The compiled stage of a fit for one family, chain layout and data shape, built once per process.

    stage(key, stage_index, positions, inverse mass matrices, step sizes, n_active, adapt, is_start, X, y, mask)
        -> (positions, step sizes, the matrices used, the next stage's matrices,
            (positions, leapfrog steps, divergent, acceptance) per iteration)
    A fit calls it for two warm-up stages (``adapt``) and then for the draws, ``stage_length``
    iterations a call: one executable for the whole fit (each one costs 0.15–0.4 s to load in a
    fresh process). With ``start_at_laplace`` the call with ``is_start`` first moves each chain
    to a draw from the Laplace approximation and uses its covariance as the metric (the given
    positions and matrices are the fallback for when it is not finite). From the export cache
    when possible: no Python tracing in a fresh process.
    """
    n_split = _chain_split(n_chains)
    key = (family_signature(family), n_chains, stage_length, tuple(data_shape), n_split, start_at_laplace)
    if key in _compiled:
        return _compiled[key]
    mesh = _chain_mesh(n_split)

    # BlackJAX is imported only when a function must be traced: with the export cache warm,
    # a fresh process never needs it (its import alone costs about a second).
    def stage_one(rng_key, position, metric, step_size, n_active, adapt, is_start, X, y, mask):
        logdensity = partial(family.log_joint, X=X, y=y, row_mask=mask)
        start_key, stage_key = jax.random.split(rng_key)
        if start_at_laplace:
            # Every chain finds the same mode (23 ms on spambase, ~2 % of its warm-up), in parallel
            # on the chains' devices: computing it once would need another compiled function.
            def laplace_start(current):
                position, metric = current
                laplace = laplace_approximation(logdensity, jnp.zeros_like(position))
                noise = jax.random.normal(start_key, position.shape, position.dtype)
                draw = laplace.mode + jnp.linalg.cholesky(laplace.covariance) @ noise
                usable = jnp.all(jnp.isfinite(draw)) & jnp.all(jnp.isfinite(laplace.covariance))
                return jnp.where(usable, draw, position), jnp.where(usable, laplace.covariance, metric)

            position, metric = jax.lax.cond(is_start, laplace_start, lambda current: current,
                                            (position, metric))
        position, step_size, draws, n_leapfrog, divergent, accept = nuts_stage(
            logdensity, position, metric, step_size, stage_key, stage_length, n_active, adapt)
        # the next stage's metric: the last three quarters of this stage's moving iterations
        first_used = stage_length - n_active + n_active // 4
        used = (jnp.arange(stage_length) >= first_used).astype(draws.dtype)
        next_metric = jnp.where(adapt, shrunk_covariance(draws, metric, weights=used), metric)
        return position, step_size, metric, next_metric, (draws, n_leapfrog, divergent, accept)

    def key_of_stage(key, stage_index):
        return jax.random.fold_in(key, stage_index)

    d = family.n_params
    f32 = jnp.float32
    n_rows = data_shape[0]
    args = (jax.ShapeDtypeStruct((2,), jnp.uint32), jax.ShapeDtypeStruct((), jnp.int32),
            jax.ShapeDtypeStruct((n_chains, d), f32), jax.ShapeDtypeStruct((n_chains, d, d), f32),
            jax.ShapeDtypeStruct((n_chains,), f32), jax.ShapeDtypeStruct((), jnp.int32),
            jax.ShapeDtypeStruct((), jnp.bool_), jax.ShapeDtypeStruct((), jnp.bool_),
            jax.ShapeDtypeStruct(tuple(data_shape), f32), jax.ShapeDtypeStruct((n_rows,), f32),
            jax.ShapeDtypeStruct((n_rows,), f32))
    description = (family_signature(family), _family_code(family), n_chains, n_split, stage_length,
                   start_at_laplace, METRIC_PSEUDO_DRAWS, TARGET_ACCEPTANCE, INITIAL_STEP_SIZE)
    stage = export_cache.cached_jit(
        "nuts-stage", description, _jit_over_chains(stage_one, mesh, n_chains, 3, 6, key_of_stage), args, mesh)
    _compiled[key] = stage
    return stage


def _family_code(family: ModelFamily) -> tuple:
    return tuple(export_cache.function_fingerprint(f) for f in (family.log_prior, family.loglik_rows))


# Draws come in stages as long as a warm-up stage, but at least this many iterations a call.
MIN_STAGE_LENGTH = 100


def stage_length_for(warmup: int, draws: int) -> int:
    """Iterations per compiled stage: half the warm-up (two warm-up stages), at least
    ``MIN_STAGE_LENGTH`` (or all the draws, if fewer) so that sampling takes few calls."""
    return max(-(-warmup // 2), min(draws, MIN_STAGE_LENGTH), 1)


def prng_key(seed: int) -> np.ndarray:
    """``jax.random.PRNGKey(seed)`` built in numpy: no JAX dispatch (and compile) before sampling."""
    seed = int(seed)
    if 0 <= seed < 2**32:
        return np.array([0, seed], np.uint32)
    return np.asarray(jax.random.PRNGKey(seed))


def sample_nuts(
    family: ModelFamily,
    X,
    y,
    row_mask=None,
    *,
    chains: int = 4,
    warmup: int = 1000,
    draws: int = 1000,
    seed: int = 0,
    init_positions=None,
    inverse_mass_matrix=None,
    progress: Callable[[int, int], None] | None = None,
) -> NutsResult:
    """Draw ``chains × draws`` posterior samples of θ given the rows where ``row_mask`` is 1.

    Without ``init_positions`` the chains start at draws from the posterior's Laplace
    approximation, whose covariance is the first warm-up stage's (dense) metric; the second
    stage uses the first one's draws, pooled over the chains. ``init_positions`` (chains, d) with ``inverse_mass_matrix``
    ((d,) variances or a (d, d) covariance) warm-start a refit from an existing candidate set
    instead. ``progress(done, total)`` is called after every compiled stage.

    Everything runs in float32 (data, positions, log-density): for standardised features
    and a few dozen parameters the leapfrog error is far below NUTS' own step-size error;
    samples come back as float64 for the statistics downstream.
    """
    start = time.perf_counter()
    # Inputs are prepared in numpy: every eager JAX op costs a dispatch and a cache lookup.
    X = np.asarray(X, np.float32)
    y = np.asarray(y, np.float32)
    mask = np.ones(X.shape[0], np.float32) if row_mask is None else np.asarray(row_mask, np.float32)
    d = family.n_params
    start_at_laplace = init_positions is None
    if start_at_laplace:
        # Used only if the Laplace approximation fails: a small jitter around 0 (Stan's
        # uniform(−2, 2) would be wild on standardised data) and a unit metric.
        init_positions = 0.1 * np.random.default_rng(seed).standard_normal((chains, d))
    position = np.asarray(init_positions, np.float32).reshape(chains, d)
    imm = np.ones(d) if inverse_mass_matrix is None else np.asarray(inverse_mass_matrix, np.float64)
    if imm.ndim == 1:
        imm = np.diag(imm)
    metric = np.ascontiguousarray(np.broadcast_to(imm.astype(np.float32), (chains, d, d)))
    step_size = np.full(chains, INITIAL_STEP_SIZE, np.float32)
    key = prng_key(seed)

    length = stage_length_for(warmup, draws)
    stage = _runner(family, chains, length, X.shape, start_at_laplace)
    half = -(-warmup // 2)
    warmup_stages = [warmup - half, half] if warmup > 0 else []
    sampling_stages = [min(length, draws - done) for done in range(0, draws, length)]
    total = len(warmup_stages) + len(sampling_stages)
    warmup_steps, traces = [], []
    for index, n_active in enumerate(warmup_stages + sampling_stages):
        adapt = index < len(warmup_stages)
        position, step_size, used_metric, next_metric, trace = stage(
            key, np.int32(index), position, metric, step_size, np.int32(n_active), np.bool_(adapt),
            np.bool_(index == 0), X, y, mask)
        # The carried state goes back to numpy (a few hundred numbers): device arrays would be a
        # new call signature for the compiled stage, and every signature is another executable.
        position, step_size = np.asarray(position), np.asarray(step_size)
        # after the first warm-up stage, its draws' covariance; afterwards the metric stays
        if adapt and index < len(warmup_stages) - 1:
            metric = pooled_over_chains(np.asarray(next_metric))
        else:
            metric = np.asarray(used_metric)
        if adapt:
            warmup_steps.append(trace[1])
        else:
            traces.append((trace, n_active))
        if progress is not None:
            jax.block_until_ready(position)
            progress(index + 1, total)
    samples, n_steps, divergent, accept = (
        np.concatenate([np.asarray(t[j])[:, length - n:] for t, n in traces], axis=1) for j in range(4))
    warm = sum(np.asarray(steps).sum(axis=1) for steps in warmup_steps) if warmup_steps else np.zeros(chains)
    return NutsResult(
        samples=samples.astype(np.float64),
        step_size=np.asarray(step_size),
        inverse_mass_matrix=np.asarray(metric),
        num_integration_steps=n_steps,
        divergent=divergent,
        acceptance_rate=accept,
        seconds=time.perf_counter() - start,
        warmup_integration_steps=np.asarray(warm),
    )


def loglik_chunk_rows(n_samples: int, max_block: int = 1 << 24) -> int:
    """Rows per block so that one (S, rows) float32 block stays ≤ 64 MB."""
    return max(1, max_block // max(n_samples, 1))


def loglik_matrix(family: ModelFamily, flat_samples, X, y, chunk_rows: int | None = None) -> np.ndarray:
    """(S, N) float32 matrix of log p(z_i|θ_s), computed in row blocks of one fixed shape.

    The last block is padded to the full block size so that one compiled (and exported)
    function serves every block.
    """
    theta = np.asarray(flat_samples, np.float32)
    X = np.asarray(X, np.float32)
    y = np.asarray(y, np.float32)
    n = X.shape[0]
    rows = min(n, chunk_rows or loglik_chunk_rows(theta.shape[0]))
    fn = _loglik_fn(family, theta.shape, (rows,) + X.shape[1:])
    out = np.empty((theta.shape[0], n), np.float32)
    for begin in range(0, n, rows):
        stop = min(begin + rows, n)
        Xb, yb = X[begin:stop], y[begin:stop]
        if stop - begin < rows:  # pad the last block
            Xb = np.concatenate([Xb, np.zeros((rows - len(Xb),) + X.shape[1:], np.float32)])
            yb = np.concatenate([yb, np.zeros(rows - len(yb), np.float32)])
        out[:, begin:stop] = np.asarray(fn(theta, Xb, yb))[:, : stop - begin]
    return out


_loglik_fns: dict = {}


def _loglik_fn(family: ModelFamily, theta_shape: tuple, block_shape: tuple):
    key = (family_signature(family), theta_shape, block_shape)
    if key not in _loglik_fns:
        jitted = jax.jit(jax.vmap(family.loglik_rows, in_axes=(0, None, None)))
        f32 = jnp.float32
        specs = (jax.ShapeDtypeStruct(theta_shape, f32), jax.ShapeDtypeStruct(block_shape, f32),
                 jax.ShapeDtypeStruct(block_shape[:1], f32))
        _loglik_fns[key] = export_cache.cached_jit(
            "loglik", (family_signature(family), _family_code(family)), jitted, specs)
    return _loglik_fns[key]


def n_devices() -> int:
    return jax.local_device_count()


__all__ = ["NutsResult", "sample_nuts", "loglik_matrix", "n_devices", "prng_key"]
