"""Profile GFM variants like the paper's Table 7: parameters, GMACs, latency, memory.

:func:`profile_model` counts parameters and MACs on the meta device
(:mod:`gfm.profiling.complexity`) and times the network in a fresh child
process (``python -m gfm.profiling.profiler``), one per model, so that its peak
memory is the model's alone:

* latency: the median of ``repeats`` forward passes (after one warm-up) of
  the whole network (encoder, both decoders, fusion) on one random
  ``(1, 3, size, size)`` input, under :func:`torch.inference_mode`, on the
  inference-optimised copy (:func:`gfm.models.optimize.optimize_for_inference`:
  batch norms folded, channels-last); no image decoding, resizing or
  post-processing;
* peak memory on the CPU: the child's peak resident set size (``VmHWM``)
  during the timed passes, reset (``/proc/self/clear_refs``) after the model
  is built so that building it does not count; weights, PyTorch runtime and
  activations included. Where the reset is impossible (not Linux) the
  lifetime peak (``getrusage``) is reported and marked so. On CUDA:
  ``torch.cuda.max_memory_allocated`` during the passes.

Variants are built with random weights (the speed and memory do not depend
on the values), checkpoints are loaded.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from collections.abc import Callable
from typing import Any

from gfm.errors import GFMError, InputError

__all__ = ["DEFAULT_VARIANTS", "ProfileRow", "format_json", "format_markdown", "profile_model"]

#: The GFM rows of the paper's Table 7: GFM(r), GFM(d), GFM(r2b), GFM(r101).
DEFAULT_VARIANTS = ("effl0-TT", "r34-TT", "d121-TT", "r34_2b-TT", "r101-TT")

_MIB = 1024 * 1024


@dataclass
class ProfileRow:
    """One model's profile.

    Attributes:
        name: variant (``r34-TT``) or checkpoint spec.
        architecture: the variant name of the network (``r34-TT``).
        size: input side in pixels (square input).
        params_total, params_used: numbers of parameters (see
            :class:`~gfm.profiling.complexity.ParameterCount`).
        macs: MACs by kind (:meth:`~gfm.profiling.complexity.MacCount.as_dict`).
        latency_s: median seconds of one forward pass, ``None`` if not timed.
        latency_runs_s: every timed pass.
        warmup_runs_s: the untimed passes before them (see :func:`warm_up`).
        peak_memory_bytes: CPU peak resident set (or CUDA peak allocated) during the passes.
        baseline_memory_bytes: the same just before the passes (weights and runtime).
        memory_note: how the peak was measured.
        device, threads: where it ran (threads: PyTorch intra-op threads).
    """

    name: str
    architecture: str
    size: int
    params_total: int
    params_used: int
    macs: dict[str, int]
    latency_s: float | None = None
    latency_runs_s: list[float] = field(default_factory=list)
    warmup_runs_s: list[float] = field(default_factory=list)
    peak_memory_bytes: int | None = None
    baseline_memory_bytes: int | None = None
    memory_note: str = ""
    device: str = ""
    threads: int | None = None


def _variant_config(variant: str) -> Any:
    from gfm.models.gfm import ROSTAS, ModelConfig
    from gfm.models.registry import list_backbones

    backbone, _, rosta = variant.rpartition("-")
    if backbone not in list_backbones() or rosta not in ROSTAS:
        from gfm.models.registry import list_models

        raise InputError(f"unknown variant {variant!r}; choose among {', '.join(list_models(include_tiny=True))}")
    return ModelConfig(backbone, rosta)


def profile_model(
    *,
    variant: str | None = None,
    checkpoint: str | None = None,
    rosta: str | None = None,
    size: int = 800,
    repeats: int = 5,
    threads: int | None = None,
    device: str = "cpu",
) -> ProfileRow:
    """Profile a variant (random weights) or a checkpoint (name or path).

    Args:
        variant: e.g. ``"r34-TT"``; exactly one of ``variant`` and ``checkpoint``.
        checkpoint: a weights name or checkpoint file (see ``gfm matte --model``).
        rosta: settles released 2-class checkpoint files (FT or BT).
        size: square input side in pixels (multiple of 32).
        repeats: timed passes (median reported); 0 counts only, no timing.
        threads: PyTorch CPU threads of the timing process (default: PyTorch's).
        device: ``"cpu"`` or ``"cuda"``.

    Raises:
        InputError: bad arguments; GFMError: the timing process failed.
    """
    from gfm.profiling.complexity import count_complexity

    if (variant is None) == (checkpoint is None):
        raise InputError("profile exactly one of a variant and a checkpoint")
    if repeats < 0:
        raise InputError(f"repeats must be 0 or more, got {repeats}")
    if threads is not None and threads < 1:
        raise InputError(f"threads must be 1 or more, got {threads}")
    if device not in ("cpu", "cuda"):
        raise InputError(f"device must be cpu or cuda, got {device!r}")
    if device == "cuda" and repeats:
        import torch

        if not torch.cuda.is_available():
            raise InputError("--device cuda was asked for but PyTorch sees no CUDA device; use --device cpu")
    if variant is not None:
        config = _variant_config(variant)
        params, macs = count_complexity(config, size)
        name = variant
    else:
        from gfm.inference.models import load_model_spec

        model = load_model_spec(checkpoint, rosta=rosta)  # type: ignore[arg-type]
        config = model.config
        params, macs = count_complexity(model, size)
        del model
        name = str(checkpoint)
    row = ProfileRow(name, config.name, size, params.total, params.used, macs.as_dict(), device=device)
    if repeats:
        spec = {"variant": variant, "checkpoint": checkpoint, "rosta": rosta, "size": size,
                "repeats": repeats, "threads": threads, "device": device}
        timing = _run_worker(spec)
        row.latency_runs_s = timing["runs"]
        row.warmup_runs_s = timing["warmup"]
        row.latency_s = statistics.median(timing["runs"])
        row.peak_memory_bytes = timing["peak"]
        row.baseline_memory_bytes = timing["baseline"]
        row.memory_note = timing["memory_note"]
        row.device = timing["device"]
        row.threads = timing["threads"]
    return row


def _run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    # The child must import this same gfm (tests and benchmarks use PYTHONPATH=src).
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([package_root, *filter(None, [env.get("PYTHONPATH")])])
    process = subprocess.run(
        [sys.executable, "-m", "gfm.profiling.profiler", json.dumps(spec)],
        capture_output=True,
        text=True,
        env=env,
    )
    if process.returncode == _USER_ERROR:  # a GFMError in the child: its one-line message
        raise GFMError(process.stderr.strip().splitlines()[-1])
    if process.returncode != 0:
        tail = "\n".join(process.stderr.strip().splitlines()[-5:])
        killed = " (killed: out of memory?)" if process.returncode < 0 else ""
        raise GFMError(f"timing {spec['variant'] or spec['checkpoint']} failed with exit code {process.returncode}{killed}:\n{tail}")
    return json.loads(process.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------
# the timing process
# --------------------------------------------------------------------------


#: Warm-up: passes until WARMUP_AGREEING in a row agree within WARMUP_TOLERANCE, at most WARMUP_MAX_PASSES.
WARMUP_TOLERANCE = 0.10
WARMUP_AGREEING = 3
WARMUP_MAX_PASSES = 12
_USER_ERROR = 3  # exit code of the timing process for a GFMError (message on stderr)


def warm_up(
    run_once: Callable[[], float],
    *,
    tolerance: float = WARMUP_TOLERANCE,
    agreeing: int = WARMUP_AGREEING,
    max_passes: int = WARMUP_MAX_PASSES,
) -> list[float]:
    """Run untimed passes until the latency is stable.

    The first passes of a fresh process are slow and erratic (allocator,
    oneDNN / cuDNN kernel choice, CPU frequency, caches): one run measured
    3.15, 3.24, 1.12, 0.77, 0.78 s, two slow passes that agree before the
    fast ones. Passes are run until ``agreeing`` consecutive ones lie within
    ``tolerance`` (relative to the fastest of them), at most ``max_passes``.

    Args:
        run_once: runs one pass and returns its seconds.

    Returns:
        The seconds of every warm-up pass.
    """
    times: list[float] = []
    while len(times) < max_passes:
        times.append(run_once())
        window = times[-agreeing:]
        if len(window) == agreeing and max(window) - min(window) <= tolerance * min(window):
            break
    return times


def _proc_status(key: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        return True
    except OSError:
        return False


def _worker(spec: dict[str, Any]) -> dict[str, Any]:
    import gc
    import resource
    import time

    import torch

    from gfm.models.optimize import optimize_for_inference

    if spec["threads"]:
        torch.set_num_threads(spec["threads"])
    device = torch.device(spec["device"])
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda was asked for but PyTorch sees no CUDA device")
    if spec["variant"]:
        from gfm.models.registry import create_model_from_config

        model = create_model_from_config(_variant_config(spec["variant"]))
    else:
        from gfm.inference.models import load_model_spec

        model = load_model_spec(spec["checkpoint"], rosta=spec["rosta"])
    timed = optimize_for_inference(model.eval()).to(device)
    del model
    gc.collect()
    size = spec["size"]
    x = (torch.rand(1, 3, size, size) * 255).to(device).contiguous(memory_format=torch.channels_last)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    if device.type == "cuda":
        sync()
        torch.cuda.reset_peak_memory_stats(device)
        baseline = torch.cuda.memory_allocated(device)
        note = "CUDA peak allocated by PyTorch (torch.cuda.max_memory_allocated)"
        name = torch.cuda.get_device_name(device)
    else:
        baseline = _proc_status("VmRSS") or 0
        reset = _reset_peak_rss()
        if reset:
            note = "CPU peak resident set of the timing process during the passes (VmHWM)"
        else:
            note = "CPU lifetime peak resident set of the timing process (getrusage; includes building the model)"
        import platform

        name = f"cpu ({platform.machine()})"
    def one_pass() -> float:
        sync()
        start = time.perf_counter()
        timed(x)
        sync()
        return time.perf_counter() - start

    with torch.inference_mode():
        warmup = warm_up(one_pass)
        runs = [one_pass() for _ in range(spec["repeats"])]
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device)
    else:
        peak = _proc_status("VmHWM") if reset else None
        if peak is None:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux
    return {"runs": runs, "warmup": warmup, "peak": int(peak), "baseline": int(baseline), "memory_note": note,
            "device": name, "threads": torch.get_num_threads()}


# --------------------------------------------------------------------------
# reports
# --------------------------------------------------------------------------


def _g(value: int | None) -> str:
    return "n/a" if value is None else f"{value / 1e9:.2f}"


def format_markdown(rows: list[ProfileRow]) -> str:
    """A table laid out like the paper's Table 7, with the measurement notes."""
    lines = [
        "| Model | Params (M) | Params used (M) | GMACs | GMACs (conv only) | Time (s) | Time range (s) | Peak memory (MiB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        time_s = "n/a" if row.latency_s is None else f"{row.latency_s:.4f}"
        spread = f"{min(row.latency_runs_s):.4f}-{max(row.latency_runs_s):.4f}" if row.latency_runs_s else "n/a"
        memory = "n/a" if row.peak_memory_bytes is None else f"{row.peak_memory_bytes / _MIB:.0f}"
        lines.append(
            f"| {row.name} | {row.params_total / 1e6:.2f} | {row.params_used / 1e6:.2f} | {_g(row.macs['paper'])} | "
            f"{_g(row.macs['conv'])} | {time_s} | {spread} | {memory} |"
        )
    sizes = sorted({row.size for row in rows})
    lines += [
        "",
        f"Input {' / '.join(f'{s}x{s}' for s in sizes)} RGB, batch 1. Params: total as released (unused "
        "classifier / stem tensors of the released checkpoints included), used = read by the forward pass.",
        "GMACs: the paper's convention (module-hook counters such as ptflops: convolutions and their biases, "
        "batch norm x2, ReLU, pooling, decoder up-sampling); conv only: torch.utils.flop_counter FLOPs / 2.",
    ]
    timed = [row for row in rows if row.latency_s is not None]
    if timed:
        where = sorted({f"{row.device}, threads={row.threads}" for row in timed})
        repeats = sorted({len(row.latency_runs_s) for row in timed})
        warmups = sorted({len(row.warmup_runs_s) for row in timed})
        lines.append(
            f"Time: median (and range) of {'/'.join(str(r) for r in repeats)} forward passes after "
            f"{'/'.join(str(w) for w in warmups)} warm-up passes (run until {WARMUP_AGREEING} in a row agreed within "
            f"{WARMUP_TOLERANCE:.0%}, at most {WARMUP_MAX_PASSES}), whole network "
            f"(encoder, both decoders, fusion), inference-optimised copy (optimize_for_inference: batch norms "
            f"folded, channels-last), random input; {'; '.join(where)}."
        )
        lines.append(f"Peak memory: {timed[0].memory_note}.")
    return "\n".join(lines) + "\n"


def format_json(rows: list[ProfileRow]) -> str:
    """Every field of every row (counts in units, times in seconds, memory in bytes)."""
    return json.dumps([asdict(row) for row in rows], indent=1) + "\n"


def _main() -> None:
    try:
        result = _worker(json.loads(sys.argv[1]))
    except GFMError as error:  # the parent shows this line, not a child's traceback
        print(str(error), file=sys.stderr)
        sys.exit(_USER_ERROR)
    print(json.dumps(result))


if __name__ == "__main__":
    _main()
