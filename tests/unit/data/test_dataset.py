"""The PyTorch datasets: item contents, epochs, backgrounds, validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from gfm.data.augment import AugmentConfig
from gfm.data.cache import Cache, CacheReader, default_cache_dir
from gfm.data.dataset import CompositeDataset, MattingDataset, training_sample
from gfm.data.augment import CropParams
from gfm.data.layouts import background_split, matting_split
from gfm.data.rosta import fuse, make_glance_target
from gfm.errors import InputError

AUG = AugmentConfig(crop_sizes=(128, 192, 256), out_size=64)


def _reader(root: Path, **kw) -> CacheReader:
    return CacheReader(Cache(default_cache_dir(root)), "ml", "nlm", compute_missing=True, **kw)


@pytest.mark.parametrize("rosta", ["TT", "FT", "BT"])
def test_matting_items(am2k_copy: Path, rosta: str) -> None:
    ds = MattingDataset(matting_split(am2k_copy).samples, rosta=rosta, augment=AUG, cache=_reader(am2k_copy))
    assert len(ds) == 3
    for i in range(len(ds)):
        item = ds[i]
        assert item["image"].shape == (3, 64, 64) and item["image"].dtype == torch.float32
        assert 0 <= item["image"].min() and item["image"].max() <= 1
        assert item["fg"].shape == item["bg"].shape == (3, 64, 64)
        assert item["alpha"].shape == item["focus"].shape == item["focus_mask"].shape == (1, 64, 64)
        assert item["glance"].dtype == torch.int64 and item["glance"].shape == (64, 64)
        classes = {0, 1, 2} if rosta == "TT" else {0, 1}
        assert set(item["glance"].unique().tolist()) <= classes
        assert set(item["trimap"].unique().tolist()) <= {0, 1, 2}
        # the targets still fuse back to the (resized) alpha
        fused = fuse(item["glance"].numpy(), item["focus"][0].numpy(), rosta)
        np.testing.assert_allclose(fused, item["alpha"][0].numpy(), atol=1e-4)


def test_label_maps_are_resized_by_nearest_neighbour(demo_pairs) -> None:
    _, image, alpha = demo_pairs[0]
    crop = CropParams(top=20, left=60, size=200, flip=True, centred=False)
    out = training_sample(image, alpha, crop, "FT", 64)
    full = make_glance_target(alpha, "FT")[20:220, 60:260]
    idx = (np.arange(64) * 200 / 64).astype(int)  # OpenCV's nearest sampling
    np.testing.assert_array_equal(out["glance"], full[np.ix_(idx, idx)][:, ::-1])


def test_epochs_change_the_draws_and_are_reproducible(am2k_copy: Path) -> None:
    samples = matting_split(am2k_copy).samples
    ds = MattingDataset(samples, augment=AUG, seed=7)
    a0 = ds[1]["image"]
    assert "fg" not in ds[1]  # no cache: no F / B
    ds.set_epoch(1)
    a1 = ds[1]["image"]
    ds.set_epoch(0)
    assert torch.equal(ds[1]["image"], a0) and not torch.equal(a0, a1)
    assert torch.equal(MattingDataset(samples, augment=AUG, seed=7)[1]["image"], a0)


def test_dataloader_with_two_workers(am2k_copy: Path) -> None:
    ds = MattingDataset(matting_split(am2k_copy).samples, augment=AUG, cache=_reader(am2k_copy))
    for i in range(len(ds)):  # fill the cache first so the workers only read
        ds[i]
    loader = DataLoader(ds, batch_size=2, num_workers=2)
    batches = list(loader)
    assert [b["image"].shape[0] for b in batches] == [2, 1]
    assert torch.equal(batches[0]["image"][1], ds[1]["image"])  # same draws in a worker


def test_composite_items_and_k_backgrounds_per_epoch(am2k_copy: Path, backgrounds_dir: Path) -> None:
    samples = matting_split(am2k_copy).samples
    backgrounds = background_split(backgrounds_dir)
    reader = _reader(am2k_copy, background_cache=Cache(default_cache_dir(backgrounds_dir)))
    ds = CompositeDataset(samples, backgrounds, reader, k=3, augment=AUG, rosta="BT")
    assert len(ds) == 9
    used = set()
    for epoch in range(4):
        ds.set_epoch(epoch)
        for f in range(3):
            idx = ds.background_indices(f).tolist()
            assert len(set(idx)) == 3
            used.update(idx)
    assert used == set(range(6))  # drawn from the whole set, not a fixed pairing
    ds.set_epoch(0)
    item = ds[4]
    assert item["image"].shape == (3, 64, 64) and item["fg"].shape == (3, 64, 64)
    fused = fuse(item["glance"].numpy(), item["focus"][0].numpy(), "BT")
    np.testing.assert_allclose(fused, item["alpha"][0].numpy(), atol=1e-4)
    # composite equation holds on the crops too (up to rounding and resizing)
    a = item["alpha"]
    recon = a * item["fg"] + (1 - a) * item["bg"]
    assert (recon - item["image"]).abs().mean() < 2 / 255
    assert torch.equal(ds[4]["image"], item["image"])
    again = CompositeDataset.from_roots(am2k_copy, backgrounds_dir, fg_method="ml", denoiser="nlm", k=3,
                                        augment=AUG, rosta="BT")
    assert torch.equal(again[4]["image"], item["image"])  # same caches, same draws


def test_bad_sets_are_refused_before_training(am2k_copy: Path, tmp_path: Path) -> None:
    mask = am2k_copy / "mask" / "sample3.png"
    a = np.asarray(Image.open(mask))
    Image.fromarray(np.repeat(a[..., None], 3, axis=2)).save(mask)
    with pytest.raises(InputError, match="sample3.png.*RGB"):
        MattingDataset(matting_split(am2k_copy).samples, augment=AUG)
    with pytest.raises(InputError, match="sample3.jpg: 400x267, shorter side 267 < 320"):
        MattingDataset(matting_split(am2k_copy).samples, augment=AugmentConfig())
    (am2k_copy / "mask" / "sample1.png").unlink()
    with pytest.raises(InputError, match="sample1.jpg: no alpha"):
        MattingDataset.from_root(am2k_copy, augment=AUG)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty"):
        CompositeDataset(matting_split(am2k_copy).samples, background_split(tmp_path / "empty"),
                         _reader(am2k_copy), augment=AUG, validate=False)


def test_persistent_workers_see_each_epoch(am2k_copy: Path) -> None:
    """With (epoch, index) pairs from EpochSampler(tag_epoch=True) a worker that lives across
    epochs (persistent_workers=True, as gfm train uses) loads each epoch's own draws."""
    from gfm.engine.sampler import EpochSampler

    samples = matting_split(am2k_copy).samples
    sampler = EpochSampler(len(samples), seed=3, shuffle=False, tag_epoch=True)
    loader = DataLoader(MattingDataset(samples, augment=AUG, seed=7), batch_size=3, sampler=sampler,
                        num_workers=1, persistent_workers=True)
    reference = MattingDataset(samples, augment=AUG, seed=7)
    seen = []
    for epoch in range(2):
        sampler.set_epoch(epoch)  # the trainer no longer needs the workers' copy of the dataset to know it
        (batch,) = list(loader)
        reference.set_epoch(epoch)
        expected = torch.stack([reference[i]["image"] for i in range(len(samples))])
        assert torch.equal(batch["image"], expected), epoch
        assert batch["index"].tolist() == [0, 1, 2]
        seen.append(batch["image"])
    assert not torch.equal(seen[0], seen[1])
    assert list(EpochSampler(4, seed=0, shuffle=False, tag_epoch=True)) == [(0, 0), (0, 1), (0, 2), (0, 3)]
