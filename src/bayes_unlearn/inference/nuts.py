"""NUTS over all chains at once (BlackJAX window adaptation + NUTS), with fixed array shapes.

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

import blackjax  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from jax.sharding import Mesh, PartitionSpec  # noqa: E402

from ..models.base import ModelFamily  # noqa: E402


@dataclass(frozen=True)
class NutsResult:
    samples: np.ndarray  # (chains, draws, d)
    step_size: np.ndarray  # (chains,)
    inverse_mass_matrix: np.ndarray  # (chains, d)
    num_integration_steps: np.ndarray  # (chains, draws)
    divergent: np.ndarray  # (chains, draws)
    acceptance_rate: np.ndarray  # (chains, draws)
    seconds: float

    @property
    def n_gradient_evaluations(self) -> int:
        return int(self.num_integration_steps.sum())


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


def _over_devices(fn: Callable, n_split: int, n_batched: int, n_shared: int) -> Callable:
    """vmap ``fn`` over the chain axis; shard that axis over ``n_split`` devices if > 1.

    The first ``n_batched`` arguments carry a leading chain axis, the next ``n_shared``
    (the data) are the same for every chain.
    """
    in_axes = (0,) * n_batched + (None,) * n_shared
    vmapped = jax.vmap(fn, in_axes=in_axes)
    if n_split == 1:
        return vmapped
    mesh = Mesh(np.array(jax.local_devices()[:n_split]), ("chain",))
    specs = (PartitionSpec("chain"),) * n_batched + (PartitionSpec(),) * n_shared
    return jax.shard_map(vmapped, mesh=mesh, in_specs=specs, out_specs=PartitionSpec("chain"),
                         check_vma=False)


_compiled: dict = {}


def _runner(family: ModelFamily, n_chains: int, num_warmup: int, chunk: int):
    """Compiled (warmup, sample_chunk) pair for one family and chain layout, built once per process."""
    key = (family_signature(family), n_chains, num_warmup, chunk)
    if key in _compiled:
        return _compiled[key]
    n_split = _chain_split(n_chains)

    def warmup_one(rng_key, position, inverse_mass_matrix, X, y, mask):
        logdensity = partial(family.log_joint, X=X, y=y, row_mask=mask)
        adaptation = blackjax.window_adaptation(
            blackjax.nuts, logdensity, initial_inverse_mass_matrix=inverse_mass_matrix,
            adaptation_info_fn=lambda *args: None,
        )
        (state, params), _ = adaptation.run(rng_key, position, num_steps=num_warmup)
        return state.position, params["step_size"], params["inverse_mass_matrix"]

    def sample_one(rng_key, position, step_size, inverse_mass_matrix, X, y, mask):
        logdensity = partial(family.log_joint, X=X, y=y, row_mask=mask)
        nuts = blackjax.nuts(logdensity, step_size=step_size, inverse_mass_matrix=inverse_mass_matrix)
        state = nuts.init(position)

        def one_step(state, k):
            state, info = nuts.step(k, state)
            return state, (state.position, info.num_integration_steps, info.is_divergent,
                           info.acceptance_rate)

        _, trace = jax.lax.scan(one_step, state, jax.random.split(rng_key, chunk))
        return trace

    warmup = jax.jit(_over_devices(warmup_one, n_split, 3, 3))
    sample = jax.jit(_over_devices(sample_one, n_split, 4, 3))
    _compiled[key] = (warmup, sample)
    return warmup, sample


def _chunk_size(draws: int, target_chunks: int = 10) -> int:
    """Largest chunk ≤ draws/target that divides draws: one compiled chunk, no remainder."""
    for n_chunks in range(target_chunks, 0, -1):
        if draws % n_chunks == 0:
            return draws // n_chunks
    return draws


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

    ``init_positions`` (chains, d) and ``inverse_mass_matrix`` (d,) warm-start a refit from
    an existing candidate set. ``progress(done, total)`` is called after warm-up and every chunk.
    """
    start = time.perf_counter()
    X = jnp.asarray(X, jnp.float32)
    y = jnp.asarray(y, jnp.float32)
    mask = jnp.ones(X.shape[0], jnp.float32) if row_mask is None else jnp.asarray(row_mask, jnp.float32)
    d = family.n_params
    rng = jax.random.PRNGKey(seed)
    k_init, k_warm, k_sample = jax.random.split(rng, 3)
    if init_positions is None:
        # Stan-like: uniform(−2, 2) would be wild on standardised data; a small jitter suffices.
        init_positions = 0.1 * jax.random.normal(k_init, (chains, d))
    init_positions = jnp.asarray(init_positions, jnp.float32).reshape(chains, d)
    imm = jnp.ones(d) if inverse_mass_matrix is None else jnp.asarray(inverse_mass_matrix, jnp.float32)
    imm = jnp.broadcast_to(imm, (chains, d))

    chunk = _chunk_size(draws)
    n_chunks = draws // chunk
    warmup_fn, sample_fn = _runner(family, chains, warmup, chunk)
    total = n_chunks + 1
    position, step_size, imm = warmup_fn(jax.random.split(k_warm, chains), init_positions, imm, X, y, mask)
    if progress is not None:
        jax.block_until_ready(position)
        progress(1, total)
    traces = []
    for i, k in enumerate(jax.random.split(k_sample, n_chunks)):
        trace = sample_fn(jax.random.split(k, chains), position, step_size, imm, X, y, mask)
        position = trace[0][:, -1]
        traces.append(trace)
        if progress is not None:
            jax.block_until_ready(position)
            progress(i + 2, total)
    samples, n_steps, divergent, accept = (
        np.concatenate([np.asarray(t[j]) for t in traces], axis=1) for j in range(4)
    )
    return NutsResult(
        samples=samples.astype(np.float64),
        step_size=np.asarray(step_size),
        inverse_mass_matrix=np.asarray(imm),
        num_integration_steps=n_steps,
        divergent=divergent,
        acceptance_rate=accept,
        seconds=time.perf_counter() - start,
    )


def loglik_matrix(family: ModelFamily, flat_samples, X, y, chunk_rows: int = 65536) -> np.ndarray:
    """(S, N) float32 matrix of log p(z_i|θ_s), computed in row chunks to bound memory."""
    theta = jnp.asarray(flat_samples, jnp.float32)
    fn = _loglik_fn(family)
    X = np.asarray(X, np.float32)
    y = np.asarray(y, np.float32)
    out = np.empty((theta.shape[0], X.shape[0]), np.float32)
    for start in range(0, X.shape[0], chunk_rows):
        stop = min(start + chunk_rows, X.shape[0])
        out[:, start:stop] = np.asarray(fn(theta, X[start:stop], y[start:stop]))
    return out


_loglik_fns: dict = {}


def _loglik_fn(family: ModelFamily):
    key = family_signature(family)
    if key not in _loglik_fns:
        _loglik_fns[key] = jax.jit(jax.vmap(family.loglik_rows, in_axes=(0, None, None)))
    return _loglik_fns[key]


def predictive_means(family: ModelFamily, flat_samples, X) -> np.ndarray:
    """(S, N) or (S, N, K) per-sample predictive means E[y|x, θ_s]."""
    key = ("predict",) + family_signature(family)
    if key not in _loglik_fns:
        _loglik_fns[key] = jax.jit(jax.vmap(family.predict_mean, in_axes=(0, None)))
    return np.asarray(_loglik_fns[key](jnp.asarray(flat_samples, jnp.float32),
                                       jnp.asarray(X, jnp.float32)))


def n_devices() -> int:
    return jax.local_device_count()


__all__ = ["NutsResult", "sample_nuts", "loglik_matrix", "predictive_means", "n_devices"]
