"""The local weights cache and its record of known hashes.

Layout::

    $GFM_HOME/                      default: platformdirs.user_cache_dir("gfm")
        weights/
            gfm_r34_tt.pth          one file per registry entry (entry.file_name)
            known_hashes.json       SHA-256 of each file, recorded at first
                                    download or import, checked afterwards

For entries with a declared ``sha256`` that hash is always the reference. For
the released checkpoints, whose hashes are not published, the hash seen the
first time is recorded ("trust on first use") and any later change of the
file is an error. Re-hashing a 200 MB file on every load is avoidable: each
record also keeps the size and modification time of the file it last
verified, and the hash is recomputed only when those change.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import threading
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gfm.errors import CheckpointError, ConfigError, WeightsNotFoundError
from gfm.home import ENV_HOME, gfm_home
from gfm.hub.registry import WeightsEntry, get_weights
from gfm.io.atomic import atomic_write

KNOWN_HASHES_FILE = "known_hashes.json"
_FORMAT = 1
_CHUNK = 1 << 20


def weights_dir() -> Path:
    """``gfm_home() / "weights"`` (not created here)."""
    return gfm_home() / "weights"


def cache_file(entry: WeightsEntry) -> Path:
    """Where ``entry``'s model file lives: in the package for bundled weights,
    else in the cache (whether or not it is there)."""
    if entry.package_file is not None:
        return bundled_dir() / entry.package_file
    return weights_dir() / entry.file_name


def bundled_dir() -> Path:
    """The package folder of the weights shipped with gfm (``gfm/weights``)."""
    return Path(__file__).resolve().parent.parent / "weights"


_REINSTALL = (
    "the installation is incomplete or damaged: reinstall gfm (`pip install --force-reinstall gfm-matting`, "
    "or in a clone `git checkout -- src/gfm/weights && make install`)"
)


def verify_bundled(entry: WeightsEntry) -> Path:
    """The bundled file of ``entry``, checked against its declared size and SHA-256.

    Raises:
        CheckpointError: the file is missing, truncated or altered; the message
            names the file and how to reinstall.
    """
    path = cache_file(entry)
    if not path.is_file():
        raise CheckpointError(f"weights {entry.name!r}: the bundled file {path} is missing; {_REINSTALL}")
    size = path.stat().st_size
    if entry.size_bytes is not None and size != entry.size_bytes:
        raise CheckpointError(
            f"weights {entry.name!r}: the bundled file {path} has {size} bytes, not {entry.size_bytes} "
            f"(a partial copy?); {_REINSTALL}"
        )
    actual = sha256_file(path)
    if actual != entry.sha256:
        raise CheckpointError(
            mismatch_message(entry, path, str(entry.sha256), "declared in the registry", actual) + f"; {_REINSTALL}"
        )
    return path


def sha256_file(path: Path) -> str:
    """Lower-case hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# ------------------------------------------------------------ known hashes


def _hashes_path() -> Path:
    return weights_dir() / KNOWN_HASHES_FILE


_HELD = threading.local()  # how deeply this thread holds the registry lock


@contextlib.contextmanager
def locked_registry() -> Iterator[None]:
    """Serialise changes to the weights cache and its hash record between processes (POSIX).

    Held around a whole installation (hash check, rename, record), so two
    concurrent imports under one name cannot both pass the recorded-hash
    check. Re-entrant within a thread.
    """
    if getattr(_HELD, "depth", 0):
        _HELD.depth += 1
        try:
            yield
        finally:
            _HELD.depth -= 1
        return
    folder = weights_dir()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: the atomic rename still keeps the file whole
        yield
        return
    with open(folder / ".known_hashes.lock", "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        _HELD.depth = 1
        try:
            yield
        finally:
            _HELD.depth = 0
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


_locked = locked_registry


def _load_records() -> dict[str, dict[str, Any]]:
    path = _hashes_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the known-hashes record ({error})") from None
    try:
        data = json.loads(text)
        records = data["weights"]
        if not isinstance(records, dict):
            raise TypeError("'weights' is not an object")
    except (ValueError, KeyError, TypeError) as error:
        raise ConfigError(
            f"{path}: the known-hashes record is corrupt ({error}); delete it to start afresh "
            "(hashes will be recorded again at the next download or import)"
        ) from None
    return records


def _save_records(records: dict[str, dict[str, Any]]) -> None:
    payload = {"format": _FORMAT, "weights": dict(sorted(records.items()))}
    with atomic_write(_hashes_path()) as tmp:
        tmp.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def recorded_hash(entry: WeightsEntry) -> dict[str, Any] | None:
    """The record for ``entry`` (keys ``sha256``, ``size``, ``source``,
    ``recorded_at``, ``file_name``), or None."""
    record = _load_records().get(entry.name)
    if record is not None and record.get("file_name") != entry.file_name:
        return None  # a record for another file of the same name: ignore it
    return record


def expected_hash(entry: WeightsEntry) -> tuple[str | None, str]:
    """The SHA-256 the cache file must have, and where that value comes from.

    Returns:
        ``(sha256, origin)``: the declared hash and ``"declared in the registry"``;
        else the recorded one and ``"recorded <date> from <source>"``; else
        ``(None, "unknown")``.
    """
    if entry.sha256 is not None:
        return entry.sha256, "declared in the registry"
    record = recorded_hash(entry)
    if record is not None and isinstance(record.get("sha256"), str):
        when = record.get("recorded_at", "?")
        return record["sha256"], f"recorded {when} from {record.get('source', '?')} in {_hashes_path()}"
    return None, "unknown"


def record_verified(entry: WeightsEntry, sha256: str, path: Path, source: str | None = None) -> None:
    """Store ``sha256`` as ``entry``'s hash, stamped with ``path``'s size and mtime.

    ``source`` (a URL, ``import:<path>``) is kept from the first record unless
    given. Called after a verified download or import, or after a check.
    """
    stat = path.stat()
    with _locked():
        records = _load_records()
        old = records.get(entry.name, {})
        same = old.get("sha256") == sha256 and old.get("file_name") == entry.file_name
        records[entry.name] = {
            "file_name": entry.file_name,
            "sha256": sha256,
            "size": stat.st_size,
            "source": source if source is not None else old.get("source", "found in cache"),
            "recorded_at": old.get("recorded_at") if same and old.get("recorded_at") else _now(),
            "verified_stat": [stat.st_size, stat.st_mtime_ns],
        }
        _save_records(records)


def forget_hash(entry: WeightsEntry) -> None:
    """Drop ``entry``'s recorded hash (its next download or import is trusted afresh)."""
    with _locked():
        records = _load_records()
        if records.pop(entry.name, None) is not None:
            _save_records(records)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


# ---------------------------------------------------------------- look-ups


def missing_message(entry: WeightsEntry, path: Path) -> str:
    """The text of :class:`WeightsNotFoundError`: what, where, and how to get it."""
    return (
        f"weights {entry.name!r} ({entry.variant}) are not in the cache: missing file {path}. "
        f"Run `gfm weights download {entry.name}`, or, without internet access here, fetch "
        f"{entry.url} elsewhere (unzip it if it is a .zip) and register the file with "
        f"`gfm weights import FILE --name {entry.name}`"
    )


def mismatch_message(entry: WeightsEntry, path: Path, expected: str, origin: str, actual: str) -> str:
    return (
        f"weights {entry.name!r}: checksum mismatch for {path}: expected sha256 {expected} "
        f"({origin}), got {actual}"
    )


def verify_cached(entry: WeightsEntry, path: Path, *, full: bool = False) -> str:
    """Check a cached file against the expected hash; record it if none is known.

    Args:
        full: re-hash even when the file's size and mtime match the last check.

    Returns:
        The file's SHA-256.

    Raises:
        CheckpointError: the hash differs from the declared or recorded one.
    """
    expected, origin = expected_hash(entry)
    record = recorded_hash(entry)
    stat = path.stat()
    if (
        not full
        and expected is not None
        and record is not None
        and record.get("sha256") == expected
        and record.get("verified_stat") == [stat.st_size, stat.st_mtime_ns]
    ):
        return expected
    actual = sha256_file(path)
    if expected is not None and actual != expected:
        raise CheckpointError(mismatch_message(entry, path, expected, origin, actual) + ". " + _refetch_hint(entry, record))
    record_verified(entry, actual, path)
    return actual


def _refetch_hint(entry: WeightsEntry, record: dict[str, Any] | None) -> str:
    """How to replace a cached file that changed: as it was obtained (an imported copy
    is imported again; a download needs the internet)."""
    source = str((record or {}).get("source", ""))
    download = f"`gfm weights download {entry.name} --force` (needs the internet)"
    if source.startswith("import:"):
        original = source.removeprefix("import:")
        return (f"The file changed or is corrupt: import your copy again with `gfm weights import {original} "
                f"--name {entry.name} --force`, or {download}")
    return (f"The file changed or is corrupt: run {download}, or import a copy with "
            f"`gfm weights import FILE --name {entry.name} --force`")


def weights_path(name: str, *, verify: bool = True) -> Path:
    """The cached model file of the weights called ``name``.

    Never downloads (see :func:`gfm.hub.download_weights`).

    Args:
        name: a registry name (``gfm weights list``).
        verify: check the file's SHA-256 against the declared or recorded
            hash (recording it on first sight); cheap when the file has not
            changed since the last check.

    Raises:
        ConfigError: unknown name.
        WeightsNotFoundError: the file is not in the cache; the message names
            the file, its cache path, the URL and the import command.
        CheckpointError: the file does not match its hash.
    """
    entry = get_weights(name)
    if entry.bundled:
        return verify_bundled(entry) if verify else cache_file(entry)
    path = cache_file(entry)
    if not path.is_file():
        raise WeightsNotFoundError(missing_message(entry, path))
    if verify:
        verify_cached(entry, path)
    return path
