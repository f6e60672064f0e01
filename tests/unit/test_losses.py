"""Loss terms against hand computations on small tensors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import ndimage

import gfm
from gfm.losses import GFMLoss, alpha_loss, composition_loss, glance_cross_entropy, laplacian_loss, laplacian_pyramid
from gfm.losses.functional import gaussian_kernel


def t(values, shape=(1, 1, 2, 2)) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32).view(shape)


def test_alpha_loss_by_hand() -> None:
    pred, target, weight = t([0.5, 0.2, 1.0, 0.0]), t([0.1, 0.2, 0.0, 0.0]), t([1.0, 1.0, 0.0, 0.0])
    eps = 1e-6
    expected = (math.sqrt(0.4**2 + eps**2) + eps + eps + eps) / 2.0
    assert alpha_loss(pred, target, weight).item() == pytest.approx(expected, rel=1e-5)
    everywhere = (math.sqrt(0.4**2 + eps**2) + eps + math.sqrt(1 + eps**2) + eps) / 4.0
    assert alpha_loss(pred, target).item() == pytest.approx(everywhere, rel=1e-5)
    assert alpha_loss(pred, target, torch.zeros_like(weight)).item() == pytest.approx(4 * eps, rel=1e-3)


def test_gaussian_kernel_has_the_stated_sigma() -> None:
    kernel = gaussian_kernel(5, 1.0)[0, 0]
    assert kernel.sum().item() == pytest.approx(1.0, abs=1e-6)
    # neighbour / centre = exp(-1 / (2 sigma^2)) = exp(-0.5); the released kernel gives exp(-1)
    assert (kernel[2, 3] / kernel[2, 2]).item() == pytest.approx(math.exp(-0.5), rel=1e-5)


def test_laplacian_pyramid_by_hand() -> None:
    rng = np.random.default_rng(0)
    image = rng.random((8, 8)).astype(np.float32)
    pyramid = laplacian_pyramid(torch.from_numpy(image)[None, None], levels=2)
    g = np.outer(*(2 * [np.exp(-((np.arange(5) - 2) ** 2) / 2.0)]))
    g /= g.sum()
    filtered = ndimage.correlate(image.astype(np.float64), g, mode="nearest")  # replicate padding
    np.testing.assert_allclose(pyramid[0][0, 0].numpy(), image - filtered, atol=1e-5)
    pooled = filtered.reshape(4, 2, 4, 2).mean(axis=(1, 3))
    filtered2 = ndimage.correlate(pooled, g, mode="nearest")
    np.testing.assert_allclose(pyramid[1][0, 0].numpy(), pooled - filtered2, atol=1e-5)
    np.testing.assert_allclose(pyramid[2][0, 0].numpy(), filtered2.reshape(2, 2, 2, 2).mean(axis=(1, 3)), atol=1e-5)
    assert len(laplacian_pyramid(torch.zeros(1, 1, 64, 64))) == 6  # 5 levels + residual


def test_laplacian_loss_by_hand() -> None:
    rng = np.random.default_rng(1)
    a, b = (torch.from_numpy(rng.random((1, 1, 32, 32)).astype(np.float32)) for _ in range(2))
    expected = sum((x - y).abs().mean() for x, y in zip(laplacian_pyramid(a), laplacian_pyramid(b)))
    assert laplacian_loss(a, b).item() == pytest.approx(expected.item(), rel=1e-6)
    assert laplacian_loss(a, a).item() == 0.0
    mask = torch.zeros_like(a)
    assert laplacian_loss(a, b, mask).item() == 0.0  # nothing supervised


def test_composition_loss_by_hand() -> None:
    pred, target = t([0.5], (1, 1, 1, 1)), t([1.0], (1, 1, 1, 1))
    fg = torch.tensor([1.0, 0.0, 0.5]).view(1, 3, 1, 1)
    bg = torch.tensor([0.0, 1.0, 0.5]).view(1, 3, 1, 1)
    # C(0.5) = (0.5, 0.5, 0.5), C(1) = (1, 0, 0.5): differences 0.5, 0.5, 0 over one pixel
    eps = 1e-6
    expected = 2 * math.sqrt(0.25 + eps**2) + eps
    assert composition_loss(pred, target, fg, bg).item() == pytest.approx(expected, rel=1e-6)


def test_cross_entropy_is_on_logits() -> None:
    logits = torch.tensor([[2.0, 0.0, -1.0]]).view(1, 3, 1, 1)
    target = torch.tensor([[[0]]])
    expected = -math.log(math.exp(2) / (math.exp(2) + 1 + math.exp(-1)))
    assert glance_cross_entropy(logits, target).item() == pytest.approx(expected, rel=1e-6)


def _batch(rosta: str, size: int = 64, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    batch = {"alpha": torch.rand(2, 1, size, size, generator=g), "fg": torch.rand(2, 3, size, size, generator=g), "bg": torch.rand(2, 3, size, size, generator=g)}
    heads = ["TT", "FT", "BT"] if rosta == "RIM" else [rosta]
    for head in heads:
        suffix = f"_{head}" if rosta == "RIM" else ""
        batch["glance" + suffix] = torch.randint(0, 3 if head == "TT" else 2, (2, size, size), generator=g)
        batch["focus" + suffix] = torch.rand(2, 1, size, size, generator=g)
        batch["focus_mask" + suffix] = (torch.rand(2, 1, size, size, generator=g) > 0.5).float()
    return batch


def _grad_norms(model: gfm.GFM) -> tuple[float, float]:
    glance = sum(p.grad.abs().sum().item() for p in model.glance.parameters() if p.grad is not None)
    focus = sum(p.grad.abs().sum().item() for p in model.focus.parameters() if p.grad is not None)
    return glance, focus


def test_fusion_loss_reaches_both_decoders() -> None:
    torch.manual_seed(0)
    model = gfm.create_model("tiny", "TT")
    batch = _batch("TT")
    out = model(torch.rand(2, 3, 64, 64) * 255, soft_fusion=True)
    GFMLoss("TT")(out, batch)["fusion_alpha"].backward()
    glance, focus = _grad_norms(model)
    assert glance > 0 and focus > 0
    # with the released argmax rule the glance decoder gets nothing through the fusion
    model.zero_grad()
    out = model(torch.rand(2, 3, 64, 64) * 255)
    GFMLoss("TT")(out, batch)["fusion_alpha"].backward()
    assert _grad_norms(model)[0] == 0


def test_loss_terms_and_total() -> None:
    model = gfm.create_model("tiny", "FT")
    terms = GFMLoss("FT")(model(torch.rand(2, 3, 64, 64) * 255, soft_fusion=True), _batch("FT"))
    assert set(terms) == {"glance_ce", "focus_alpha", "focus_laplacian", "fusion_alpha", "fusion_laplacian", "fusion_composition", "total"}
    assert terms["total"].item() == pytest.approx(sum(v.item() for k, v in terms.items() if k != "total"), rel=1e-6)
    no_colours = {k: v for k, v in _batch("FT").items() if k not in ("fg", "bg")}
    assert "fusion_composition" not in GFMLoss("FT")(model(torch.rand(2, 3, 64, 64) * 255, soft_fusion=True), no_colours)


def test_rim_groups_use_their_own_targets() -> None:
    torch.manual_seed(0)
    model = gfm.create_model("tiny", "RIM")
    x = torch.rand(2, 3, 64, 64) * 255
    out = model(x, soft_fusion=True)
    batch = _batch("RIM")
    terms = GFMLoss("RIM")(out, batch)
    assert {"glance_ce_TT", "glance_ce_FT", "glance_ce_BT", "rim_alpha", "rim_laplacian", "rim_composition"} <= set(terms)
    changed = dict(batch, glance_BT=1 - batch["glance_BT"])  # only the BT glance target changes
    other = GFMLoss("RIM")(out, changed)
    differing = {k for k in terms if not torch.equal(terms[k], other[k])}
    assert differing == {"glance_ce_BT", "total"}
