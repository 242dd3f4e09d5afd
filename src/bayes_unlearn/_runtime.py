"""JAX start-up settings: persistent compilation cache, one XLA host device per chain, loops
compiled whole.

Called once, before the first sampler is built. The compilation cache is on by default
(in the user's cache directory) because JAX compilation, not sampling, dominates the wall
time of a fit; ``BAYES_UNLEARN_NO_CACHE=1`` turns it off, ``BAYES_UNLEARN_CACHE_DIR`` moves it.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
from pathlib import Path

_configured = False


def cache_dir() -> Path:
    explicit = os.environ.get("BAYES_UNLEARN_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "bayes-unlearn" / "jax"


def cache_enabled() -> bool:
    return os.environ.get("BAYES_UNLEARN_NO_CACHE", "").strip().lower() not in {"1", "true", "yes"}


# One XLA host device per chain for the default 4 chains, even on fewer cores. Chains vmapped on
# one device advance in lockstep: every NUTS step waits for the longest trajectory of its batch.
# Measured on spambase (4 chains × 2000 iterations, 2 cores, CPU seconds of the fit):
# 2 devices × 2 chains 36.3 s, 4 devices × 1 chain 20.4 s; Pima 2.26 s → 1.55 s.
MIN_HOST_DEVICES = 4


def request_host_devices() -> None:
    """Ask XLA for max(cores, MIN_HOST_DEVICES) CPU devices so chains run independently.

    Only possible before JAX is imported; a library user who imported JAX first keeps
    their own setting (chains are then vectorised on fewer devices).
    """
    if "jax" in sys.modules:
        return
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" in flags:
        return
    n = max(os.cpu_count() or 1, MIN_HOST_DEVICES)
    os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={n}".strip()


# XLA's CPU runtime runs a while loop op by op, one kernel launch per fused op and iteration;
# its small-while-loop pass instead compiles a loop into one kernel, but only below 1 kB of data
# accessed (its default). NUTS is a while loop of small vector ops: with every loop eligible
# (loops holding a sort, scatter or LAPACK call still run op by op) a Pima fit samples in
# 0.15–0.18 s instead of 0.46–0.48 s, spambase 3.1–3.4 s instead of 3.7–4.0 s, same draws on Pima.
WHOLE_LOOP_KERNEL_BYTES = 1_000_000_000


def request_whole_loop_kernels() -> None:
    """Raise XLA's small-while-loop limit (``WHOLE_LOOP_KERNEL_BYTES``) so loops compile whole.

    Only possible before JAX is imported, and only when the user's ``XLA_FLAGS`` do not already
    set ``xla_backend_extra_options`` (theirs win).
    """
    if "jax" in sys.modules:
        return
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_backend_extra_options" in flags:
        return
    option = f"--xla_backend_extra_options=xla_cpu_small_while_loop_byte_threshold={WHOLE_LOOP_KERNEL_BYTES}"
    os.environ["XLA_FLAGS"] = f"{flags} {option}".strip()


def request_xla_flags() -> None:
    """The XLA settings this package runs best with, set before JAX is imported."""
    request_host_devices()
    request_whole_loop_kernels()


# jaxlib takes its CPU LAPACK kernels from these two SciPy extension modules
# (``GetLapackKernelsFromScipy`` in jaxlib/cpu/_lapack.so), the first time a program with
# linear algebra is lowered and on every call of an exported function.
SCIPY_LAPACK_MODULES = ("scipy.linalg.cython_blas", "scipy.linalg.cython_lapack")


def preload_scipy_lapack() -> None:
    """Load SciPy's Cython BLAS/LAPACK modules without running ``scipy.linalg/__init__``.

    Imported the usual way, each first runs the ``scipy.linalg`` package, which imports most
    of SciPy's linear algebra: measured 0.25–0.4 s of every process that samples. The two
    extension modules need only the top-level ``scipy`` package; loaded from their files they
    take ~30 ms and export the same function pointers. A later ``import scipy.linalg`` finds
    them in ``sys.modules`` and gets them bound as its attributes, as a normal import would.
    Any failure (another SciPy layout, SciPy absent) leaves the ordinary import to jaxlib.
    """
    if "scipy.linalg" in sys.modules or any(name in sys.modules for name in SCIPY_LAPACK_MODULES):
        return
    try:
        import importlib.machinery
        import importlib.util

        spec = importlib.util.find_spec("scipy")
        if spec is None or spec.origin is None:
            return
        folder = Path(spec.origin).parent / "linalg"
        files = []
        for name in SCIPY_LAPACK_MODULES:
            stem = name.rsplit(".", 1)[1]
            found = [folder / (stem + suffix) for suffix in importlib.machinery.EXTENSION_SUFFIXES
                     if (folder / (stem + suffix)).is_file()]
            if not found:
                return
            files.append((name, found[0]))
        sys.meta_path.insert(0, _BindPreloadedOnImport())
        for name, path in files:
            loader = importlib.machinery.ExtensionFileLoader(name, str(path))
            module_spec = importlib.util.spec_from_file_location(name, path, loader=loader)
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[name] = module
            try:
                loader.exec_module(module)
            except BaseException:
                del sys.modules[name]
                raise
    except Exception:
        return


class _BindPreloadedOnImport:
    """Import hook, used once: when ``scipy.linalg`` is imported, bind the preloaded modules
    as its attributes after its ``__init__`` ran (a normal submodule import does the same)."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "scipy.linalg":
            return None
        sys.meta_path.remove(self)
        import importlib.util

        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        run_package = spec.loader.exec_module

        def exec_module(module):
            run_package(module)
            for name in SCIPY_LAPACK_MODULES:
                if name in sys.modules:
                    setattr(module, name.rsplit(".", 1)[1], sys.modules[name])

        spec.loader.exec_module = exec_module
        return spec


# glibc's malloc serves a request of at least its mmap threshold with a fresh mmap, and hands
# a thread arena's free top back to the kernel once it exceeds the trim threshold (twice the
# mmap threshold); pages handed back are faulted in again on the next use. Both thresholds start
# at 128 kB and rise only when a mapped block is freed, to that block's size (at most 32 MiB).
# Scoring frees multi-MB XLA buffers in two threads, one block after another, so how far the
# thresholds had happened to rise decided its speed: per 10⁶ rows, 0.2–0.75 million page faults
# and 2–4 s of system CPU from one process to the next (1.5–2.2 million and 6–9 s when stage 3
# ran on half as many rows at a time); 20–40 thousand and ≈ 1 s once settled.
MALLOC_DYNAMIC_THRESHOLD_MAX = 32 << 20
_malloc_settled = False


def settle_malloc_thresholds() -> None:
    """Raise glibc's adaptive malloc thresholds to their ceiling (mmap 32 MiB, trim 64 MiB), once.

    It maps and frees one untouched block just under 32 MiB, which is how glibc raises them
    itself; its dynamic adjustment stays on (unlike ``mallopt`` or ``MALLOC_*_`` variables,
    which switch it off for the whole process). The cost: a thread arena keeps up to 64 MiB of
    freed memory for reuse instead of returning it. Does nothing on other C libraries.
    """
    global _malloc_settled
    if _malloc_settled:
        return
    _malloc_settled = True
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.malloc.restype = ctypes.c_void_p
        libc.malloc.argtypes = [ctypes.c_size_t]
        libc.free.argtypes = [ctypes.c_void_p]
        libc.free(libc.malloc(MALLOC_DYNAMIC_THRESHOLD_MAX - (1 << 16)))  # < 32 MiB with its header
    except (OSError, AttributeError):
        return


def configure_jax() -> None:
    global _configured
    if _configured:
        return
    request_xla_flags()
    preload_scipy_lapack()
    import jax

    if cache_enabled():
        path = cache_dir()
        try:
            path.mkdir(parents=True, exist_ok=True)
            jax.config.update("jax_compilation_cache_dir", str(path))
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
            jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
        except OSError:
            pass  # an unwritable cache only costs speed
    atexit.register(skip_final_collection)
    _configured = True


def skip_final_collection() -> None:
    """At exit, move every object out of the garbage collector's reach (``gc.freeze``).

    The interpreter's last collection walks every object JAX created: measured 0.37–0.45 s of
    exit after a Pima fit, 0.13 s with this. Nothing is lost: the process is ending, and Python
    never promised to run ``__del__`` of objects still alive at exit.
    """
    gc.freeze()
