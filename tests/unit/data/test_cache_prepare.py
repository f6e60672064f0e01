"""The precomputation cache: tasks, skipping finished files, failures reported."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from gfm.data.cache import Cache, CacheReader, default_cache_dir
from gfm.data.layouts import background_split, matting_split
from gfm.data.prepare import denoise_foreground_tasks, denoise_image_tasks, foreground_tasks, run_tasks
from gfm.errors import InputError
from gfm.io import read_image


def test_foregrounds_are_cached_and_rerun_skips_them(am2k_copy: Path) -> None:
    split = matting_split(am2k_copy)
    cache = Cache(default_cache_dir(am2k_copy))
    tasks = foreground_tasks(split.samples, cache, "ml")
    report = run_tasks(tasks, progress=False)
    assert (report.done, report.skipped, report.failed) == (3, 0, [])
    fg = cache.foreground("original/sample1", "ml")
    assert fg == am2k_copy / "gfm-cache" / "fg-ml" / "original" / "sample1.png"
    assert read_image(fg).shape == read_image(split.samples[0].image).shape
    again = run_tasks(tasks, progress=False)
    assert (again.done, again.skipped) == (0, 3)
    cache.background_estimate("original/sample3", "ml").unlink()  # half-finished task
    (fg.parent / ".sample2.png.abc.tmp.png").write_bytes(b"partial")  # leftover of a killed write
    third = run_tasks(tasks, progress=False)
    assert (third.done, third.skipped) == (1, 2)
    assert not [p for p in (am2k_copy / "gfm-cache").rglob("*.tmp*") if p.name != ".sample2.png.abc.tmp.png"]
    stale = fg.parent / ".sample1.png.k2j4_x9a.tmp.png"  # killed while nothing was left to do
    stale.write_bytes(b"partial")
    os.utime(stale, (1e9, 1e9))
    assert (run_tasks(tasks, progress=False).skipped, stale.exists()) == (3, False)


def test_a_corrupt_file_is_reported_and_skipped(am2k_copy: Path) -> None:
    bad = am2k_copy / "original" / "sample3.jpg"
    bad.write_bytes(bad.read_bytes()[:2000])
    split = matting_split(am2k_copy)
    report = run_tasks(foreground_tasks(split.samples, Cache(am2k_copy / "c"), "ml"), progress=False)
    assert report.done == 2 and len(report.failed) == 1
    path, reason = report.failed[0]
    assert path == bad and "sample3.jpg" in reason


def test_denoise_backgrounds_with_two_workers(tmp_path: Path, backgrounds_dir: Path) -> None:
    images = background_split(backgrounds_dir)
    cache = Cache(tmp_path / "cache")
    tasks = denoise_image_tasks(images, cache, "nlm")[:3]
    report = run_tasks(tasks, workers=2, progress=False)
    assert (report.done, report.failed) == (3, [])
    out = read_image(cache.denoised_image("bg_00", "nlm"))
    assert out.shape == read_image(images.images[0]).shape


def test_denoising_foregrounds_needs_them_first(am2k_copy: Path) -> None:
    split = matting_split(am2k_copy)
    cache = Cache(am2k_copy / "c")
    report = run_tasks(denoise_foreground_tasks(split.samples[:1], cache, "cf", "nlm"), progress=False)
    assert len(report.failed) == 1 and "gfm prepare foregrounds ROOT --method cf" in report.failed[0][1]


def test_cache_reader_refuses_or_computes_missing_entries(am2k_copy: Path) -> None:
    from gfm.data.files import read_pair

    sample = matting_split(am2k_copy).samples[2]
    image, alpha = read_pair(sample.image, sample.alpha)
    cache = Cache(am2k_copy / "c")
    with pytest.raises(InputError, match=r"fg-ml/original/sample3.png.*gfm prepare foregrounds"):
        CacheReader(cache, "ml", "nlm").foreground(sample, image, alpha)
    reader = CacheReader(cache, "ml", "nlm", compute_missing=True)
    fg, bg = reader.foreground(sample, image, alpha)
    assert cache.foreground(sample.key, "ml").is_file()  # written back
    np.testing.assert_array_equal(read_image(cache.foreground(sample.key, "ml")), fg)
    np.testing.assert_array_equal(CacheReader(cache, "ml").foreground_for_composition(sample, alpha), fg)
    dn = reader.denoised_foreground(sample, fg)
    assert dn.shape == fg.shape and cache.denoised_foreground(sample.key, "ml", "nlm").is_file()
    with pytest.raises(InputError, match="denoised-nlm/x.png"):
        CacheReader(cache, "ml", "nlm").denoised_background("x", image)


def test_a_broken_result_is_a_failure_not_a_cache_entry(tmp_path: Path, backgrounds_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An all-black denoised image (what BM3D made of grayscale photos) is refused."""
    import gfm.data.denoise

    monkeypatch.setattr(gfm.data.denoise, "denoise", lambda image, method: np.zeros_like(image))
    images = background_split(backgrounds_dir)
    cache = Cache(tmp_path / "cache")
    report = run_tasks(denoise_image_tasks(images, cache, "nlm")[:2], progress=False)
    assert report.done == 0 and len(report.failed) == 2
    assert "all-black image from a non-black source; not cached" in report.failed[0][1]
    assert not list((tmp_path / "cache").rglob("*.png"))
    source = read_image(images.images[0])
    with pytest.raises(InputError, match="all-black"):
        CacheReader(cache, "ml", "nlm", compute_missing=True).denoised_background("x", source)
    assert not cache.denoised_image("x", "nlm").exists()
