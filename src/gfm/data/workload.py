"""How long computing foreground colours and denoised images will take, said before it starts.

``gfm prepare foregrounds`` and ``gfm compose --compute-missing`` can run for hours
(the closed form and BM3D cost tens of seconds per megapixel); they print an
estimate first, from the files' sizes (headers only) and the seconds per
megapixel measured for each method (:data:`SECONDS_PER_MEGAPIXEL`), and name
the faster choices.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from gfm.data.files import read_header
from gfm.errors import InputError

if TYPE_CHECKING:
    from gfm.data.cache import CacheReader
    from gfm.data.layouts import MattingSample

#: Seconds per megapixel of one worker on this project's 2-core CPU (AMD EPYC, shared with
#: other work): the foreground methods from ``python benchmarks/rssn_foreground.py`` (the
#: example photos, 0.4-1 MP), the denoisers from ``gfm.data.denoise.denoise`` on the same
#: photos at 0.06 and 0.24 MP. The closed form grows a little faster than the pixels, and
#: a busy machine is slower: an estimate, not a promise.
SECONDS_PER_MEGAPIXEL: dict[str, float] = {"cf": 3.5, "ml": 0.3, "fast": 0.15, "bm3d": 30.0, "nlm": 1.0}
#: Files whose headers are read to estimate a large set's mean size.
SAMPLED_HEADERS = 64


@dataclass
class Workload:
    """Work to do: ``(what, count, megapixels, method)`` rows and their estimated seconds."""

    rows: list[tuple[str, int, float, str]] = field(default_factory=list)

    def add(self, what: str, count: int, megapixels: float, method: str) -> None:
        if count:
            self.rows.append((what, count, megapixels, method))

    @property
    def seconds(self) -> float:
        return sum(mp * SECONDS_PER_MEGAPIXEL[method] for _, _, mp, method in self.rows)

    def describe(self, workers: int = 1) -> str:
        """``"12 foregrounds (cf, 11.5 MP) ...: about 2 min"`` (``workers`` processes sharing the work)."""
        parts = ", ".join(f"{count} {what} ({method}, {mp:.1f} MP)" for what, count, mp, method in self.rows)
        return f"{parts}: about {duration(self.seconds / max(1, workers))}"


def duration(seconds: float) -> str:
    """``"40 s"``, ``"3 min"``, ``"2.5 h"``."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def megapixels(paths: Sequence[Path], sample: int | None = None) -> float:
    """Total megapixels of ``paths`` from their headers (of ``sample`` of them, scaled up, when given)."""
    chosen = list(paths)
    if sample is not None and len(chosen) > sample:
        chosen = random.Random(0).sample(chosen, sample)
    total = 0
    for path in chosen:
        try:
            header = read_header(path, apply_exif=False)
        except InputError:  # reported by the run itself
            continue
        total += header.width * header.height
    return total / 1e6 * (len(paths) / len(chosen) if chosen else 0.0)


def advice(workload: Workload, method: str, denoiser: str | None, method_flag: str) -> str:
    """The faster choices, when the estimate is long enough to matter (else ``""``)."""
    if workload.seconds < 60:
        return ""
    tips = []
    if method == "cf":
        tips.append(f"{method_flag} fast takes about {SECONDS_PER_MEGAPIXEL['fast'] / SECONDS_PER_MEGAPIXEL['cf']:.0%} of "
                    "cf's time (on composites its F is 2.2 levels of 255 from cf's colours, cf's own 1.2; docs/training.md)")
    if denoiser == "bm3d" and any(m == "bm3d" for *_, m in workload.rows):
        tips.append("--denoiser nlm is about 50x faster than BM3D (not the paper's)")
    return "; ".join(tips)


def compose_workload(samples: Sequence[MattingSample], backgrounds: Sequence[Path], background_root: Path, reader: CacheReader,
                     *, k: int, p_denoise_fg: float, p_denoise_bg: float) -> Workload:
    """What ``gfm compose --compute-missing`` will compute: the foregrounds missing from the
    cache, and (RSSN) the denoised foregrounds and backgrounds its random draws are expected
    to ask for (each with its probability; a background drawn again is computed once)."""
    from gfm.data.cache import image_key

    cache, bg_cache = reader.cache, reader.background_cache
    missing_fg = [s.image for s in samples if not cache.foreground(s.key, reader.fg_method).is_file()]
    work = Workload()
    work.add("foregrounds", len(missing_fg), megapixels(missing_fg, SAMPLED_HEADERS), reader.fg_method)
    if p_denoise_fg > 0:
        missing = [s.image for s in samples if not cache.denoised_foreground(s.key, reader.fg_method, reader.denoiser).is_file()]
        expected = math.ceil(len(missing) * p_denoise_fg)
        work.add("denoised foregrounds (expected)", expected, megapixels(missing, SAMPLED_HEADERS) * p_denoise_fg, reader.denoiser)
    if p_denoise_bg > 0 and backgrounds:
        missing_bg = [b for b in backgrounds if not bg_cache.denoised_image(image_key(b, background_root), reader.denoiser).is_file()]
        share = 1.0 - (1.0 - min(1.0, p_denoise_bg * k / len(backgrounds))) ** len(samples)  # drawn and denoised at least once
        expected = math.ceil(len(missing_bg) * share)
        work.add("denoised backgrounds (expected)", expected, megapixels(missing_bg, SAMPLED_HEADERS) * share, reader.denoiser)
    return work


__all__ = ["SECONDS_PER_MEGAPIXEL", "Workload", "advice", "compose_workload", "duration", "megapixels"]
