"""Reading checkpoint files safely, whatever wrote them.

Files are always read with ``torch.load(weights_only=True)`` on the CPU: a
file holding arbitrary pickled objects is refused, never executed. A ``.zip``
archive holding one model file (as some releases are served) is opened
transparently, streamed and size-capped.

This module only reads: :mod:`gfm.models.checkpoint` turns what it reads into
a model, and :func:`load_backbone_weights` (used by
:func:`gfm.models.registry.create_model`) initialises an encoder from an
ImageNet file; neither of those is imported here.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from gfm.errors import CheckpointError

if TYPE_CHECKING:
    from gfm.models.gfm import GFM

__all__ = ["MAX_ARCHIVED_CHECKPOINT_BYTES", "load_backbone_weights", "read_checkpoint", "unwrap_state_dict"]

_MODEL_SUFFIXES = (".pth", ".pt", ".ckpt", ".pkl", ".bin", ".tar")


def _torch_load(fileobj: str | os.PathLike[str] | io.BytesIO, label: str) -> Any:
    try:
        return torch.load(fileobj, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if "global" in str(error).lower():  # a class or function reference: code, not data
            raise CheckpointError(
                f"{label}: holds pickled Python objects besides tensors, which gfm refuses to load "
                "(unpickling them could run code); save a plain state_dict instead"
            ) from None
        raise CheckpointError(
            f"{label}: not a PyTorch checkpoint (unreadable pickle data); the file is corrupt or of another kind"
        ) from None
    except Exception as error:  # torch raises many kinds on garbage: EOFError, IndexError, RuntimeError ...
        raise CheckpointError(
            f"{label}: cannot read the checkpoint ({str(error).splitlines()[0][:160]}); "
            "the file is truncated, corrupt or not a PyTorch file: download it again"
        ) from None


def read_checkpoint(path: str | os.PathLike[str]) -> Any:
    """Load a checkpoint file safely (``weights_only=True``, on the CPU).

    A ``.zip`` archive holding exactly one model file (``.pth``, ``.pt``,
    ``.ckpt``) is opened transparently.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: the checkpoint file is empty; download it again")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if not any(n.endswith("data.pkl") for n in names):  # not itself a torch zip checkpoint
                members = [n for n in names if n.lower().endswith(_MODEL_SUFFIXES) and not n.endswith("/")]
                if len(members) != 1:
                    raise CheckpointError(
                        f"{path}: zip archive holds {len(members)} model files ({', '.join(members[:5]) or 'none'}); "
                        "extract the one you want and pass it directly"
                    )
                return _load_archive_member(archive, archive.getinfo(members[0]), f"{path}!{members[0]}")
    return _torch_load(path, str(path))


# A model file inside a zip archive larger than this is refused before it is read:
# the largest released GFM checkpoint (r101) is about 2 GB.
MAX_ARCHIVED_CHECKPOINT_BYTES = 3 << 30

# First bytes of a PyTorch file: a zip (torch >= 1.6) or a protocol-2+ pickle (older).
_TORCH_MAGIC = (b"PK\x03\x04", b"\x80")


def _load_archive_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, label: str) -> Any:
    """Load one model file of a zip archive, streamed to a temporary file.

    Memory stays that of the checkpoint itself (never the archive member read
    whole, then copied); the member's size is capped (declared and actual, as
    a forged header can lie), and a member that does not start like a PyTorch
    file is refused before anything is extracted.
    """
    import tempfile
    import zlib

    if info.flag_bits & 0x1:
        raise CheckpointError(f"{label}: the archive member is encrypted; extract it and pass the file directly")
    too_large = (
        f"{label}: the archive member is over {MAX_ARCHIVED_CHECKPOINT_BYTES / 2**30:g} GiB, larger than any GFM "
        "checkpoint; refusing to read it (extract the file and pass it directly if you trust it)"
    )
    if info.file_size > MAX_ARCHIVED_CHECKPOINT_BYTES:
        raise CheckpointError(too_large)
    with tempfile.TemporaryDirectory(prefix="gfm-checkpoint-") as folder:
        extracted = Path(folder) / "member.pth"
        try:
            with archive.open(info) as source, open(extracted, "wb") as target:
                head = source.read(4)
                if not head.startswith(_TORCH_MAGIC):
                    raise CheckpointError(
                        f"{label}: not a PyTorch checkpoint (it does not start like one); the archive holds another kind of file"
                    )
                target.write(head)
                copied = len(head)
                while chunk := source.read(1 << 20):
                    copied += len(chunk)
                    if copied > MAX_ARCHIVED_CHECKPOINT_BYTES:
                        raise CheckpointError(too_large)
                    target.write(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError) as error:
            raise CheckpointError(f"{label}: the zip archive is corrupt ({error}); download it again") from None
        except OSError as error:
            raise CheckpointError(
                f"{label}: cannot extract the archive member to {folder} ({error.strerror or error}); "
                "extract it yourself and pass the file directly"
            ) from None
        return _torch_load(extracted, label)


def unwrap_state_dict(obj: Any, label: str) -> dict[str, torch.Tensor]:
    """The tensors of a loaded checkpoint: ``obj`` itself, or its ``state_dict`` /
    ``model`` entry, without DataParallel's ``module.`` prefixes.

    Raises:
        CheckpointError: no non-empty dict of tensors there.
    """
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    elif isinstance(obj, dict) and "model" in obj and isinstance(obj["model"], dict):
        obj = obj["model"]
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{label}: not a model checkpoint (no state_dict of tensors found)")
    prefix = "module."
    if all(k.startswith(prefix) for k in obj):  # saved from DataParallel / DDP
        obj = {k[len(prefix) :]: v for k, v in obj.items()}
    return obj


def load_backbone_weights(model: GFM, path: str | os.PathLike[str]) -> list[str]:
    """Initialise ``model.encoder`` from a torchvision ImageNet checkpoint.

    Returns:
        Keys of the file the encoder does not use (classifier, unused stem).
    """
    state_dict = unwrap_state_dict(read_checkpoint(path), str(path))
    try:
        return model.encoder.load_backbone_state_dict(state_dict)
    except CheckpointError as error:
        raise CheckpointError(f"{path}: {error}") from None
