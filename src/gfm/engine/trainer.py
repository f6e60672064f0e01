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

import itertools
import math
import random
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
from gfm.engine.checkpoints import list_checkpoints, rng_state, save_training_checkpoint, set_rng_state
from gfm.engine.config import TrainConfig, dump_yaml, from_dict
from gfm.engine.distributed import DistInfo, all_reduce_mean, barrier, init_distributed
from gfm.engine.resume import check_resume_config, interrupted_message, load_newest_checkpoint
from gfm.engine.run_log import RunLog, say
from gfm.engine.sampler import EpochSampler
from gfm.engine.steps import (
    amp_settings,
    channels_last_crashes,
    freeze_batch_norms,
    learning_rate,
    move_batch,
    resolve_training_device,
    training_loss,
)
from gfm.errors import ConfigError, GFMError
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
    payload = load_newest_checkpoint(checkpoints) if resume else None
    if payload is not None:
        check_resume_config(from_dict(payload["config"]), config, checkpoints[-1])

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
        say(info, "\n" + "!" * 78 + "\nWARNING: training from scratch: no ImageNet backbone weights (--backbone-weights FILE).\n"
             "GFM's results depend on an ImageNet-initialised encoder; expect much worse mattes.\n" + "!" * 78 + "\n")
    normalization = NORMALIZATIONS[config.model.normalization]
    model.to(device)
    amp_dtype, use_scaler = amp_settings(device, config.optim.amp)
    if config.optim.channels_last and channels_last_crashes(device, amp_dtype):
        say(info, "note: optim.channels_last is ignored: with bf16 autocast on CPU it crashes PyTorch's oneDNN "
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
        say(info, f"resuming {run_dir} from {checkpoints[-1].name}: epoch {state.epoch}, step {state.step}")
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
    say(info, f"{device.type}: {torch.get_num_threads()} PyTorch thread(s) a process, {workers} loader worker(s) "
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
    logger = RunLog(run_dir, info.is_main, config.log.tensorboard, state.step if payload is not None else None)

    from tqdm import tqdm

    bar = tqdm(total=total_steps, initial=state.step, unit="step", disable=not (info.is_main and config.log.progress), dynamic_ncols=True)
    last: dict[str, float] = {}
    window_start, window_samples = time.perf_counter(), 0
    micro = 0
    skipped_items = 0
    done = state.step >= total_steps
    if done:
        say(info, f"{run_dir}: already trained to step {state.step} of {total_steps}: nothing to do "
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
        say(info, interrupted_message(run_dir, state.step))
        raise
    finally:
        torch.set_num_threads(previous_threads)  # the caller's setting (train() may be called from a program)
    bar.close()
    logger.close()
    best = run_dir / "best.pt"
    weights = best if best.exists() else run_dir / "last.pt"
    return TrainSummary(run_dir, state.step, state.epoch, last, state.best_sad, weights if weights.exists() else None, skipped_items)


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


def _validate(model: GFM, validation: Any, normalization: Normalization, config: TrainConfig, state: TrainState,
              run_dir: Path, logger: RunLog, info: DistInfo, device: torch.device) -> None:
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
