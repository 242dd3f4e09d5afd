"""The export cache of traced samplers, lazy imports and a fast exit (the block scorer: tests/test_scoring.py)."""

from __future__ import annotations

import platform
import subprocess
import sys

import numpy as np
import pytest

from bayes_unlearn.inference import export_cache, nuts
from bayes_unlearn.inference.nuts import sample_nuts
from bayes_unlearn.models import logistic_family

SMALL = {"chains": 2, "warmup": 100, "draws": 100, "seed": 3}


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3))
    y = (rng.random(60) < 1 / (1 + np.exp(-(0.5 + X @ np.array([1.0, -1.0, 0.5]))))).astype(float)
    return X, y


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty export cache and no sampler built yet in this process."""
    monkeypatch.setenv("BAYES_UNLEARN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("BAYES_UNLEARN_NO_CACHE", raising=False)
    monkeypatch.setattr(nuts, "_compiled", {})
    monkeypatch.setattr(nuts, "_loglik_fns", {})
    return tmp_path / "cache" / "exported"


def _fit(X, y):
    nuts._compiled.clear()
    return sample_nuts(logistic_family(3), X, y, **SMALL)


def test_export_round_trip_gives_the_plain_jit_samples(data, fresh_cache, monkeypatch):
    X, y = data
    first = _fit(X, y)  # traces, exports, writes the entries
    entries = sorted(p.name for p in fresh_cache.glob("*.jaxexport"))
    assert any(n.startswith("nuts-stage-") for n in entries)
    second = _fit(X, y)  # served from the files: no tracing
    monkeypatch.setenv("BAYES_UNLEARN_NO_CACHE", "1")
    plain = _fit(X, y)  # plain jax.jit
    np.testing.assert_array_equal(first.samples, second.samples)
    np.testing.assert_array_equal(first.samples, plain.samples)
    np.testing.assert_array_equal(first.num_integration_steps, plain.num_integration_steps)
    assert first.warmup_integration_steps.shape == (SMALL["chains"],)
    assert first.n_gradient_evaluations_total > first.n_gradient_evaluations > 0


def test_disabled_cache_writes_nothing(data, fresh_cache, monkeypatch):
    monkeypatch.setenv("BAYES_UNLEARN_NO_CACHE", "1")
    _fit(*data)
    assert not fresh_cache.exists() or not list(fresh_cache.iterdir())


def test_corrupted_entry_falls_back_and_is_rewritten(data, fresh_cache):
    X, y = data
    reference = _fit(X, y)
    for path in fresh_cache.glob("*.jaxexport"):
        path.write_bytes(b"bayes-unlearn-export 1 garbage\n" + b"\x00" * 100)
    again = _fit(X, y)
    np.testing.assert_array_equal(reference.samples, again.samples)
    for path in fresh_cache.glob("*.jaxexport"):  # replaced by valid entries
        key = path.stem.rsplit("-", 1)[1]
        assert export_cache.load_exported(path, key) is not None


def test_function_that_cannot_be_exported_is_returned_unchanged(fresh_cache):
    def not_jitted(x):
        return x + 1

    fn = export_cache.cached_jit("plain", "test", not_jitted, (np.zeros(3, np.float32),))
    assert fn is not_jitted


def test_cache_key_changes_with_what_determines_the_code():
    args = (np.zeros((4, 2), np.float32),)
    key = export_cache.cache_key("f", ("logistic", 3), args)
    assert key == export_cache.cache_key("f", ("logistic", 3), args)
    assert key != export_cache.cache_key("f", ("logistic", 4), args)
    assert key != export_cache.cache_key("f", ("logistic", 3), (np.zeros((4, 3), np.float32),))
    assert key != export_cache.cache_key("f", ("logistic", 3), (np.zeros((4, 2), np.int32),))


def test_prng_key_matches_jax():
    import jax

    for seed in (0, 1, 12345, 2**32 - 1, 2**32 + 7, -3):
        np.testing.assert_array_equal(nuts.prng_key(seed), np.asarray(jax.random.PRNGKey(seed)))


def test_sampler_import_does_not_load_blackjax_or_sklearn():
    code = ("import sys, bayes_unlearn.inference.nuts; "
            "print(sorted(m for m in ('blackjax', 'sklearn', 'pandas', 'arviz') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_processes_that_used_jax_skip_the_final_garbage_collection():
    # atexit runs handlers last-registered-first: this checker, registered before JAX is
    # configured, runs after the library's handler and sees every object frozen.
    code = ("import atexit, gc, sys; "
            "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 1000, flush=True)); "
            "import bayes_unlearn.inference.nuts")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["frozen", "True"]


@pytest.mark.parametrize("user_flags", [None, "--xla_backend_extra_options=xla_cpu_disable_loop_unrolling=true"])
def test_while_loops_are_compiled_whole_unless_the_user_set_backend_options(user_flags):
    import os

    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    if user_flags:
        env["XLA_FLAGS"] = user_flags
    code = "import os, bayes_unlearn.inference.nuts; print(os.environ['XLA_FLAGS'])"
    flags = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env=env).stdout.split()
    assert any(f.startswith("--xla_force_host_platform_device_count=") for f in flags)
    whole = "--xla_backend_extra_options=xla_cpu_small_while_loop_byte_threshold=1000000000"
    if user_flags:
        assert user_flags in flags and whole not in flags
    else:
        assert whole in flags


LAPACK_CHECK = """
import sys
{setup}
import jax.numpy as jnp, numpy as np
a = np.array([[4.0, 2.0], [2.0, 3.0]])
ours = np.asarray(jnp.linalg.cholesky(jnp.asarray(a)))  # jaxlib's LAPACK kernels, from SciPy
print("scipy.linalg" in sys.modules)
import scipy.linalg
from scipy.linalg import cython_blas
assert scipy.linalg.cython_lapack is sys.modules["scipy.linalg.cython_lapack"]
assert cython_blas is sys.modules["scipy.linalg.cython_blas"] and "dgemm" in cython_blas.__pyx_capi__
np.testing.assert_allclose(ours, scipy.linalg.cholesky(a, lower=True), rtol=1e-6)
"""


@pytest.mark.parametrize("preload", [True, False])
def test_jax_linear_algebra_runs_without_importing_the_scipy_linalg_package(preload):
    """jaxlib's CPU LAPACK kernels come from SciPy's Cython modules; we load just those two.

    Without the preload (the negative control), jaxlib's own import of them runs the whole
    ``scipy.linalg`` package. Either way the kernels are SciPy's and give SciPy's answer.
    """
    setup = ("from bayes_unlearn._runtime import configure_jax; configure_jax()" if preload
             else "import jax")
    out = subprocess.run([sys.executable, "-c", LAPACK_CHECK.format(setup=setup)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(not preload)]


MALLOC_CHURN = """
import ctypes, resource
{setup}
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
MiB = 1 << 20
libc.free(libc.malloc(12 * MiB))  # mapped then freed: glibc's thresholds now ≈ 12 and 24 MiB
def cycle():  # three 11 MiB blocks from the heap, written, freed: 33 MiB free at its top
    blocks = [libc.malloc(11 * MiB) for _ in range(3)]
    for b in blocks:
        ctypes.memset(b, 1, 11 * MiB)
    for b in blocks:
        libc.free(b)
cycle()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    cycle()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc thresholds only")
@pytest.mark.parametrize("settle", [True, False])
def test_settled_malloc_thresholds_keep_freed_blocks_for_reuse(settle):
    """Scoring's churn of multi-MB blocks, in miniature: with glibc's thresholds where they rose
    by chance (12 MiB here), the freed top is trimmed and 5 cycles fault 5 × 33 MiB in again;
    settled (``_runtime.settle_malloc_thresholds``), the blocks are reused. Fresh processes:
    the thresholds only ever rise."""
    setup = "from bayes_unlearn._runtime import settle_malloc_thresholds; settle_malloc_thresholds()" if settle else ""
    out = subprocess.run([sys.executable, "-c", MALLOC_CHURN.format(setup=setup)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    faults = int(out.stdout)
    pages = 5 * 33 * (1 << 20) // 4096
    if settle:
        assert faults < 0.05 * pages
    else:
        assert faults > 0.5 * pages  # the negative control: the churn the settling removes
