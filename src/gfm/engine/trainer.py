"""The training loop: one CPU, one GPU, or many through torchrun.

    from gfm.engine import train
    summary = train(config, dataset, validation=eval_dataset)

Per optimiser step: ``accumulate`` micro-batches of one epoch (an epoch's last
batches that cannot fill a step are left out), each normalised for the
weights (0..255 RGB -> the configured normalisation), a forward pass with the
differentiable collaborative matting, :class:`~gfm.losses.GFMLoss`, backward
(mixed precision on CUDA); then an Adam step. Logs go to ``metrics.jsonl`` and
``train.csv`` (and TensorBoard if asked), checkpoints to ``checkpoints/``,
the weights (our format, with metadata) to ``last.pt`` and, when validating,
``best.pt`` (lowest SAD on the real validation images).
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from gfm.cpu import loader_workers, training_threads
from gfm.engine.checkpoints import (
    list_checkpoints,
    load_training_checkpoint,
    rng_state,
    save_training_checkpoint,
    set_rng_state,
)
from gfm.engine.config import TrainConfig, dump_yaml, from_dict
from gfm.engine.distributed import DistInfo, all_reduce_mean, barrier, init_distributed
from gfm.engine.sampler import EpochSampler
from gfm.errors import CheckpointError, ConfigError, GFMError
from gfm.io.atomic import atomic_write
from gfm.losses import GFMLoss
from gfm.models.checkpoint import save_checkpoint
from gfm.models.gfm import GFM
from gfm.models.normalization import NORMALIZATIONS, Normalization
from gfm.models.registry import create_model


@dataclass
class TrainState:
    epoch: int = 0
    batch_in_epoch: int = 0  # micro-batches of this epoch already consumed (this rank)
    step: int = 0  # optimiser steps taken
    best_sad: float | None = None


@dataclass
class TrainSummary:
    run_dir: Path
    steps: int
    epochs_completed: int
    last_losses: dict[str, float]
    best_sad: float | None
    weights: Path | None
    skipped_items: int = 0  # unreadable training items replaced by others (this rank's count)


def resolve_training_device(spec: str) -> torch.device:
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(spec)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("optim.device is cuda but PyTorch sees no CUDA device; use cpu or auto")
    return device


def _amp_settings(device: torch.device, mode: str) -> tuple[torch.dtype | None, bool]:
    """(autocast dtype or None, use a gradient scaler).

    On CPUs only an explicit ``bf16`` turns autocast on (fast where the CPU has
    native bf16, e.g. AVX512-BF16 or AMX); ``auto`` keeps CPU training in fp32.
    """
    if device.type == "cpu" and mode == "bf16":
        return torch.bfloat16, False
    if device.type != "cuda" or mode == "off":
        return None, False
    if mode in ("auto", "bf16") and torch.cuda.is_bf16_supported():
        return torch.bfloat16, False
    if mode == "bf16":
        raise ConfigError("optim.amp is bf16 but this GPU does not support bfloat16; use fp16 or off")
    return torch.float16, True


def _channels_last_crashes(device: torch.device, amp_dtype: torch.dtype | None) -> bool:
    """Channels-last + bf16 autocast on CPU: a known oneDNN crash of torch 2.13's backward
    (a double free with several threads; an abort with one thread too, seen in the test suite)."""
    return device.type == "cpu" and amp_dtype == torch.bfloat16


def learning_rate(config: TrainConfig, step: int, total_steps: int) -> float:
    """The learning rate of optimiser step ``step`` (0-based) of ``total_steps``.

    Linear warm-up over ``optim.warmup_steps``, then ``optim.lr`` (constant) or a
    cosine decay to ``optim.lr_min`` at the last step (or at ``optim.schedule_steps``:
    a short run can follow the first steps of a longer run's schedule).
    """
    optim = config.optim
    total_steps = optim.schedule_steps or total_steps
    if step < optim.warmup_steps:
        return optim.lr * (step + 1) / optim.warmup_steps
    if optim.schedule == "constant":
        return optim.lr
    span = max(1, total_steps - optim.warmup_steps)
    progress = min(1.0, (step - optim.warmup_steps) / span)
    return optim.lr_min + 0.5 * (optim.lr - optim.lr_min) * (1.0 + math.cos(math.pi * progress))


def freeze_batch_norms(model: nn.Module) -> None:
    """Put every batch norm in eval mode (running statistics); affine parameters still train."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()


def move_batch(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def training_loss(
    model: nn.Module,
    batch: dict[str, torch.Tensor],
    loss_fn: GFMLoss,
    normalization: Normalization,
    *,
    soft_fusion: bool = True,
    amp_dtype: torch.dtype | None = None,
) -> dict[str, torch.Tensor]:
    """One forward pass and its loss terms (used by the loop and by the tests).

    ``batch["image"]`` is RGB in [0, 1]; the network gets it in 0..255 through
    ``normalization``.
    """
    x = normalization.apply(batch["image"] * 255.0)
    device_type = x.device.type
    with torch.autocast(device_type, dtype=amp_dtype, enabled=amp_dtype is not None):
        out = model(x, soft_fusion=soft_fusion)
    return loss_fn(out, batch)


class _Logger:
    """Rank 0's logs: JSONL of every event, CSVs of training and validation rows."""

    def __init__(self, run_dir: Path, enabled: bool, tensorboard: bool, resume_step: int | None) -> None:
        self.enabled = enabled
        self.run_dir = run_dir
        self.writer = None
        if not enabled:
            return
        if resume_step is not None:  # drop what a killed run logged after its last checkpoint
            self._truncate(resume_step)
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise ConfigError("log.tensorboard needs the tensorboard package: pip install tensorboard") from None
            self.writer = SummaryWriter(str(run_dir / "tensorboard"))

    def _truncate(self, step: int) -> None:
        path = self.run_dir / "metrics.jsonl"
        if path.exists():
            rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            kept = [r for r in rows if r.get("step", 0) <= step]
            with atomic_write(path) as tmp:
                tmp.write_text("".join(json.dumps(r) + "\n" for r in kept))
            for kind in ("train", "val"):
                self._rewrite_csv(kind, [r for r in kept if r.get("kind") == kind])

    def _rewrite_csv(self, kind: str, rows: list[dict[str, Any]]) -> None:
        path = self.run_dir / f"{kind}.csv"
        if not rows:
            path.unlink(missing_ok=True)
            return
        with atomic_write(path) as tmp, tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

    def log(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with (self.run_dir / "metrics.jsonl").open("a") as f:
            f.write(json.dumps(row) + "\n")
        path = self.run_dir / f"{row['kind']}.csv"
        new = not path.exists()
        with path.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)
        if self.writer is not None:
            for key, value in row.items():
                if isinstance(value, float) and key not in ("time",):
                    self.writer.add_scalar(f"{row['kind']}/{key}", value, row["step"])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _say(info: DistInfo, message: str) -> None:
    if info.is_main:
        print(message, file=sys.stderr, flush=True)


def _check_resume_config(saved: TrainConfig, config: TrainConfig, path: Path) -> None:
    if saved.model != config.model:
        saved_name = f"{saved.model.backbone}-{saved.model.rosta}"
        raise CheckpointError(
            f"{path}: the run was trained as {saved_name} ({saved.model}); the config asks for "
            f"{config.model.backbone}-{config.model.rosta} ({config.model}); resume with the run's own model settings "
            "or start a new run in another --out folder"
        )


def _export(model: GFM, path: Path, normalization: Normalization, config: TrainConfig, state: TrainState, extra: dict[str, Any]) -> Path:
    provenance = {
        "trained_by": "gfm train",
        "run": str(path.parent),
        "step": state.step,
        "epoch": state.epoch,
        "track": config.data.track,
        "route": config.data.route,
        "data": config.data.root,
        "backbone_weights": config.model.backbone_weights,
        **extra,
    }
    return save_checkpoint(model, path, normalization=normalization, provenance=provenance)


def train(
    config: TrainConfig,
    dataset: Dataset,
    *,
    validation: Any | None = None,
    resume: bool = False,
) -> TrainSummary:
    """Train a GFM model as ``config`` says.

    Args:
        config: validated :class:`TrainConfig`.
        dataset: training items (see :mod:`gfm.data.dataset`); must offer
            ``set_epoch(epoch)``.
        validation: real images with their alphas (:func:`gfm.evaluation.discover_dataset`), or None.
        resume: continue from the newest checkpoint in ``config.log.out``.
    """
    device = resolve_training_device(config.optim.device)
    info = init_distributed(device.type)
    if info.enabled and device.type == "cuda":
        device = torch.device("cuda", info.local_rank)
    run_dir = Path(config.log.out)
    checkpoints = list_checkpoints(run_dir)
    if checkpoints and not resume:
        raise ConfigError(f"{run_dir}: holds checkpoints of an earlier run; pass --resume to continue it, or choose another --out")
    if resume and not checkpoints:
        raise ConfigError(f"{run_dir}: no checkpoint to resume from (looked in {run_dir / 'checkpoints'})")
    payload = _load_newest(checkpoints) if resume else None
    if payload is not None:
        _check_resume_config(from_dict(payload["config"]), config, checkpoints[-1])

    if info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        with atomic_write(run_dir / "config.yaml") as tmp:
            tmp.write_text(dump_yaml(config))
    barrier(info)

    seed = config.optim.seed
    random.seed(seed + info.rank)
    np.random.seed(seed + info.rank)
    torch.manual_seed(seed + info.rank)

    model = create_model(
        config.model.backbone,
        config.model.rosta,
        single_decoder=config.model.single_decoder,
        ppm=config.model.ppm,
        bridge=config.model.bridge,
        backbone_weights=config.model.backbone_weights if payload is None else None,
    )
    if config.model.backbone_weights is None and payload is None:
        _say(info, "\n" + "!" * 78 + "\nWARNING: training from scratch: no ImageNet backbone weights (--backbone-weights FILE).\n"
             "GFM's results depend on an ImageNet-initialised encoder; expect much worse mattes.\n" + "!" * 78 + "\n")
    normalization = NORMALIZATIONS[config.model.normalization]
    model.to(device)
    amp_dtype, use_scaler = _amp_settings(device, config.optim.amp)
    if config.optim.channels_last and _channels_last_crashes(device, amp_dtype):
        _say(info, "note: optim.channels_last is ignored: with bf16 autocast on CPU it crashes PyTorch's oneDNN "
             "backward (a double free or an abort, seen with torch 2.13 with several threads and with one); "
             "it is used on GPUs and with fp32")
    elif config.optim.channels_last:
        model.to(memory_format=torch.channels_last)
    if info.enabled and config.optim.sync_bn:
        if device.type != "cuda":
            raise ConfigError("optim.sync_bn needs CUDA (PyTorch's SyncBatchNorm is GPU-only); use freeze_bn or leave it off")
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.optim.lr, weight_decay=config.optim.weight_decay)
    scaler = torch.amp.GradScaler("cuda", enabled=use_scaler)
    state = TrainState()
    if payload is not None:
        model.load_state_dict(payload["model"])
        optimizer.load_state_dict(payload["optimizer"])
        if payload.get("scaler"):
            scaler.load_state_dict(payload["scaler"])
        state = TrainState(**payload["state"])
        set_rng_state(payload["rng"][min(info.rank, len(payload["rng"]) - 1)] if isinstance(payload["rng"], list) else payload["rng"])
        _say(info, f"resuming {run_dir} from {checkpoints[-1].name}: epoch {state.epoch}, step {state.step}")
    wrapped: nn.Module = model
    if info.enabled:
        wrapped = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    sampler = EpochSampler(len(dataset), seed, info.rank, info.world_size, tag_epoch=True)  # the epoch comes with each index
    batch_size = config.optim.batch_size
    batches_per_epoch = math.ceil(sampler.per_rank / batch_size)
    workers = config.data.workers if config.data.workers is not None else loader_workers(batches_per_epoch)
    previous_threads = torch.get_num_threads()
    if device.type == "cpu" or config.optim.threads:  # oversubscribed cores stall every step (gfm.cpu)
        torch.set_num_threads(config.optim.threads or training_threads(workers, _processes_on_this_machine(info)))
    _say(info, f"{device.type}: {torch.get_num_threads()} PyTorch thread(s) a process, {workers} loader worker(s) "
         "(--threads, --workers to change)")
    # Workers get no init function: cv2.setNumThreads in forked workers deadlocks (gfm.data.dataset).
    # Workers live for the whole run (they learn each item's epoch from the sampler): no start-up every epoch.
    loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=False, num_workers=workers,
                        pin_memory=device.type == "cuda", persistent_workers=workers > 0)
    steps_per_epoch = max(1, batches_per_epoch // config.optim.accumulate)
    # Each optimiser step accumulates micro-batches of one epoch only: the epoch's last
    # (batches_per_epoch mod accumulate) batches are left out, so that no gradient is
    # half-accumulated at an epoch's end (where a checkpoint may be written).
    batches_used = min(batches_per_epoch, steps_per_epoch * config.optim.accumulate)
    micro_per_step = min(config.optim.accumulate, batches_used)
    total_steps = config.optim.steps or config.optim.epochs * steps_per_epoch
    loss_fn = GFMLoss(config.model.rosta)
    logger = _Logger(run_dir, info.is_main, config.log.tensorboard, state.step if payload is not None else None)

    from tqdm import tqdm

    bar = tqdm(total=total_steps, initial=state.step, unit="step", disable=not (info.is_main and config.log.progress), dynamic_ncols=True)
    last: dict[str, float] = {}
    window_start, window_samples = time.perf_counter(), 0
    micro = 0
    skipped_items = 0
    done = state.step >= total_steps
    if done:
        _say(info, f"{run_dir}: already trained to step {state.step} of {total_steps}: nothing to do "
             "(raise --steps or --epochs to train further)")
    wrapped.train()
    if config.optim.freeze_bn:
        freeze_batch_norms(wrapped)

    def checkpoint() -> None:
        if info.is_main:
            payload_out = {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scaler": scaler.state_dict() if use_scaler else {},
                "state": vars(state).copy(),
                "rng": rng_state(),
                "config": config.to_dict(),
                "data_order": {"seed": seed, "epoch": state.epoch, "batch_in_epoch": state.batch_in_epoch, "world_size": info.world_size},
            }
            save_training_checkpoint(run_dir, state.step, payload_out, config.log.keep_last)
            _export(model, run_dir / "last.pt", normalization, config, state, {})
        barrier(info)

    start_step = state.step
    validated_at: int | None = None

    def validate() -> None:
        nonlocal validated_at
        _validate(model, validation, normalization, config, state, run_dir, logger, info, device)
        validated_at = state.step

    try:
        while not done and state.epoch < config.optim.epochs:
            dataset.set_epoch(state.epoch)  # type: ignore[attr-defined]
            sampler.set_epoch(state.epoch, skip=state.batch_in_epoch * batch_size)
            epoch_ended = False
            for batch in itertools.islice(_worker_errors_as_messages(loader), max(0, batches_used - state.batch_in_epoch)):
                skipped_items += int(batch.pop("skipped").sum())
                batch = move_batch(batch, device)
                terms = training_loss(wrapped, batch, loss_fn, normalization, soft_fusion=config.optim.soft_fusion, amp_dtype=amp_dtype)
                scaler.scale(terms["total"] / micro_per_step).backward()
                micro += 1
                state.batch_in_epoch += 1
                window_samples += batch["image"].shape[0] * info.world_size
                if micro < micro_per_step:
                    continue
                micro = 0
                lr = learning_rate(config, state.step, total_steps)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
                state.step += 1
                bar.update(1)
                if state.step % config.log.log_every == 0 or state.step == total_steps or state.batch_in_epoch == batches_used:
                    values = all_reduce_mean({k: float(v.detach()) for k, v in terms.items()}, info, device)
                    elapsed = time.perf_counter() - window_start
                    rate = window_samples / elapsed if elapsed > 0 else 0.0
                    last = values
                    logger.log({"kind": "train", "step": state.step, "epoch": state.epoch, **{k: round(v, 6) for k, v in values.items()},
                                "samples_per_s": round(rate, 3), "lr": lr, "time": round(time.time(), 3)})
                    bar.set_postfix({"loss": f"{values['total']:.4f}", "samples/s": f"{rate:.1f}"})
                    window_start, window_samples = time.perf_counter(), 0
                if config.optim.steps is not None and state.step >= config.optim.steps:
                    done = True  # stop, mid-epoch or on the epoch's last step (counted below)
                    break
                if state.batch_in_epoch < batches_used and state.step % config.log.checkpoint_every == 0:
                    checkpoint()  # (at an epoch's end the checkpoint is written after the epoch is counted)
            else:
                epoch_ended = True
            if epoch_ended or state.batch_in_epoch >= batches_used:  # the epoch ran to its end
                state.epoch += 1
                state.batch_in_epoch = 0
                if validation is not None and state.epoch % config.log.val_every == 0:
                    validate()
                if state.epoch >= config.optim.epochs:
                    done = True
                if not done and state.step % config.log.checkpoint_every == 0:
                    checkpoint()  # the epoch boundary: resuming starts the next epoch
        if state.step > start_step:  # this call trained: validate (a run given validation data does so at its end at least), save
            if validation is not None and validated_at != state.step:
                validate()
            checkpoint()
    except KeyboardInterrupt:
        bar.close()
        _say(info, _interrupted_message(run_dir, state.step))
        raise
    finally:
        torch.set_num_threads(previous_threads)  # the caller's setting (train() may be called from a program)
    bar.close()
    logger.close()
    best = run_dir / "best.pt"
    weights = best if best.exists() else run_dir / "last.pt"
    return TrainSummary(run_dir, state.step, state.epoch, last, state.best_sad, weights if weights.exists() else None, skipped_items)


def _load_newest(checkpoints: list[Path]) -> dict[str, Any]:
    """The newest checkpoint; if it is unreadable, say which older one is there to resume from."""
    try:
        return load_training_checkpoint(checkpoints[-1])
    except CheckpointError as error:
        if len(checkpoints) < 2:
            raise
        raise CheckpointError(
            f"{error}. The previous checkpoint {checkpoints[-2].name} is there: move {checkpoints[-1]} out of "
            f"{checkpoints[-1].parent} and run again with --resume to continue from it"
        ) from None


def _worker_errors_as_messages(loader: DataLoader) -> Iterator[dict[str, torch.Tensor]]:
    """Iterate ``loader``; a user error raised in a loader worker keeps its own message.

    PyTorch re-raises a worker's exception in the main process with the
    worker's whole traceback as its message; a :class:`GFMError` (a bad
    training file with ``data.strict``) is re-raised with its last line, the
    message a user can act on.
    """
    iterator = iter(loader)
    while True:
        try:
            batch = next(iterator)
        except StopIteration:
            return
        except GFMError as error:
            text = str(error)
            if "Original Traceback" in text:
                last = text.rstrip().splitlines()[-1]
                raise type(error)(last.split(": ", 1)[1] if ": " in last else last) from None
            raise
        yield batch


def _processes_on_this_machine(info: DistInfo) -> int:
    """Training processes sharing this machine's cores (torchrun's LOCAL_WORLD_SIZE)."""
    import os

    return int(os.environ.get("LOCAL_WORLD_SIZE", "1")) if info.enabled else 1


def _interrupted_message(run_dir: Path, step: int) -> str:
    """What an interrupted run says: where ``--resume`` will continue from."""
    saved = list_checkpoints(run_dir)
    if not saved:
        return f"interrupted at step {step}; no checkpoint was written yet, so --resume cannot continue this run"
    resumed = int(saved[-1].stem.split("_")[-1])  # step_00000040.pt
    repeat = f" (steps {resumed + 1}-{step} will be trained again)" if step > resumed else ""
    return (f"interrupted at step {step}; `gfm train --resume --out {run_dir}` continues from "
            f"{saved[-1]} (step {resumed}){repeat}; --set log.checkpoint_every=N saves more often")


def _validate(model: GFM, validation: Any, normalization: Normalization, config: TrainConfig, state: TrainState,
              run_dir: Path, logger: _Logger, info: DistInfo, device: torch.device) -> None:
    """Rank 0 evaluates on the real validation images; best SAD -> best.pt."""
    if info.is_main:
        from gfm.inference import Predictor
        from gfm.evaluation.runner import evaluate

        was_training = model.training
        model.checkpoint_meta = None  # type: ignore[assignment]
        predictor = Predictor(model, strategy="hybrid", device=device, normalization=normalization)
        result = evaluate(validation, run_dir / "validation" / f"epoch_{state.epoch:04d}", predictor=lambda image: predictor.predict(image).alpha,
                          method=f"epoch {state.epoch}", progress=False)
        means = {k: float(v) for k, v in result.means.items()}
        sad = means.get("SAD")
        logger.log({"kind": "val", "step": state.step, "epoch": state.epoch, **{k: round(v, 6) for k, v in means.items()}, "time": round(time.time(), 3)})
        if sad is not None and (state.best_sad is None or sad < state.best_sad):
            state.best_sad = sad
            _export(model, run_dir / "best.pt", normalization, config, state, {"validation_SAD": sad})
        model.train(was_training)
        if config.optim.freeze_bn:
            freeze_batch_norms(model)
    barrier(info)
