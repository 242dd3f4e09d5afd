"""A disk cache of exported (serialised StableHLO) JAX functions, to skip Python tracing.

JAX's persistent compilation cache skips XLA compilation but not tracing, and tracing
BlackJAX's NUTS warm-up and step costs seconds of Python per fresh process —
more than the sampling itself. ``jax.export`` serialises the traced program; loading it
back takes milliseconds, and its compilation is then served by the persistent cache.

Entries live in ``<cache_dir>/exported/`` and are keyed by everything that determines the
program: the caller's description (model family, chain layout, static sizes), argument
shapes and dtypes, device count, the jax/jaxlib/blackjax versions and a hash of this
package's model and inference sources. Writes are atomic; any failure (no ``flatbuffers``,
a corrupted or foreign entry, an unwritable directory) falls back to the plain jitted
function. ``BAYES_UNLEARN_NO_CACHE=1`` disables this cache together with JAX's.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

import jax
import numpy as np
from jax.sharding import Mesh

from .._runtime import cache_dir, cache_enabled

FORMAT_VERSION = 1
_SOURCE_PACKAGES = ("models", "inference")


def export_dir() -> Path:
    return cache_dir() / "exported"


@cache
def source_fingerprint() -> str:
    """Hash of our model and inference sources: editing them invalidates every entry."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for package in _SOURCE_PACKAGES:
        for path in sorted((root / package).glob("*.py")):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


@cache
def _library_versions() -> tuple[str, ...]:
    from importlib.metadata import version  # not `import blackjax`: that alone costs a second

    return tuple(f"{name}=={version(name)}" for name in ("jax", "jaxlib", "blackjax"))


def function_fingerprint(fn: Callable) -> str:
    """Bytecode, constants and closed-over scalars of a (model) function, for the cache key.

    Families built from our sources are covered by ``source_fingerprint``; this also tells
    apart user-written families that share a name.
    """
    code = getattr(fn, "__code__", None)
    if code is None:
        return repr(fn)
    cells = []
    for cell in fn.__closure__ or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        cells.append(repr(value) if isinstance(value, (int, float, str, bool, tuple)) else type(value).__name__)
    return hashlib.sha256(
        repr((fn.__module__, fn.__qualname__, code.co_code, code.co_consts, cells)).encode()
    ).hexdigest()


def _arg_signature(args: Sequence) -> list:
    return [(tuple(np.shape(a)), str(jax.numpy.result_type(a))) for a in args]


def cache_key(name: str, description, args: Sequence) -> str:
    parts = {
        "format": FORMAT_VERSION,
        "name": name,
        "description": repr(description),
        "args": _arg_signature(args),
        "devices": [jax.default_backend(), jax.local_device_count()],
        "versions": _library_versions(),
        "source": source_fingerprint(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


def _caller(exported, mesh: Mesh | None) -> Callable:
    """A jitted call of an exported function, in the device context it was exported for."""
    if exported.nr_devices == 1 or mesh is None:
        return jax.jit(exported.call)
    unflatten = jax.tree_util.tree_unflatten
    args_shardings, _ = unflatten(exported.in_tree, exported.in_shardings_jax(mesh))
    return jax.jit(exported.call, in_shardings=args_shardings,
                   out_shardings=unflatten(exported.out_tree, exported.out_shardings_jax(mesh)))


class _FallbackOnError:
    """Call ``primary``; if it ever raises, switch to ``fallback`` for good.

    Calling an exported function can fail only when it is first traced (device context,
    a deserialised module this jaxlib rejects); the plain jit then does the work.
    """

    def __init__(self, primary: Callable, fallback: Callable):
        self.primary = primary
        self.fallback = fallback

    def __call__(self, *args):
        if self.primary is not None:
            try:
                return self.primary(*args)
            except Exception:
                self.primary = None
        return self.fallback(*args)


def _write_atomically(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _header(key: str) -> bytes:
    return f"bayes-unlearn-export {FORMAT_VERSION} {key}\n".encode()


def load_exported(path: Path, key: str):
    """The deserialised entry, or None if absent; raises on a corrupted or foreign file."""
    from jax import export

    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        return None
    header = _header(key)
    if not blob.startswith(header):
        raise ValueError(f"{path.name}: not an export cache entry for this key")
    body = blob[len(header):]
    checksum, body = body[:32], body[32:]
    if hashlib.sha256(body).digest() != checksum:
        raise ValueError(f"{path.name}: checksum mismatch")
    return export.deserialize(bytearray(body))


def save_exported(path: Path, key: str, exported) -> None:
    body = bytes(exported.serialize())
    _write_atomically(path, _header(key) + hashlib.sha256(body).digest() + body)


def cached_jit(name: str, description, jitted: Callable, args: Sequence,
               mesh: Mesh | None = None) -> Callable:
    """``jitted`` (a ``jax.jit`` function) served from the export cache when possible.

    ``args`` are example arguments (arrays or ShapeDtypeStructs) of the calls to come;
    ``description`` must capture every static choice baked into ``jitted`` that the
    argument shapes do not show. On any failure the plain ``jitted`` is returned.
    """
    if not cache_enabled():
        return jitted
    try:
        key = cache_key(name, description, args)
        path = export_dir() / f"{name}-{key}.jaxexport"
    except Exception:
        return jitted
    try:
        exported = load_exported(path, key)
    except Exception:
        exported = None
        path.unlink(missing_ok=True)  # corrupted: drop it and export afresh
    if exported is None:
        try:
            from jax import export

            specs = [jax.ShapeDtypeStruct(np.shape(a), jax.numpy.result_type(a)) for a in args]
            exported = export.export(jitted)(*specs)
        except Exception:
            return jitted
        try:
            save_exported(path, key, exported)
        except Exception:
            pass  # an unwritable cache only costs speed next time
    try:
        return _FallbackOnError(_caller(exported, mesh), jitted)
    except Exception:
        return jitted


__all__ = ["cached_jit", "cache_key", "export_dir", "function_fingerprint", "source_fingerprint"]
