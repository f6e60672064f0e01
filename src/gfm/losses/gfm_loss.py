"""The GFM training loss: ``L = L_CE + L_FD + L_CM`` (and RIM's groups)."""

from __future__ import annotations

import torch
from torch import nn

from gfm.losses import functional as L
from gfm.models.gfm import GFMOutput


def _key(name: str, head: str, rim: bool) -> str:
    return f"{name}_{head}" if rim else name


class GFMLoss(nn.Module):
    """Named loss terms plus ``total``, ready to log.

    Batch keys (as produced by :mod:`gfm.data.dataset`): ``alpha`` (B,1,H,W);
    ``glance`` (B,H,W) class targets; ``focus`` and ``focus_mask`` (B,1,H,W);
    optionally ``fg`` and ``bg`` (B,3,H,W) in [0, 1] for the composition term.
    RIM models need the three RoSTa targets as ``glance_TT``, ``focus_TT``,
    ``focus_mask_TT``, ``..._FT``, ``..._BT``.

    Terms (per RoSTa head ``h``; RIM adds ``_TT`` / ``_FT`` / ``_BT`` suffixes):

    * ``glance_ce``: cross-entropy of the glance logits;
    * ``focus_alpha``, ``focus_laplacian``: focus output vs its RoSTa target,
      over the RoSTa's own transition area (``focus_mask``);
    * ``fusion_alpha``, ``fusion_laplacian``, ``fusion_composition``: the
      collaborative-matting alpha vs the ground truth over the whole image
      (for RIM, also the RIM output as ``rim_alpha`` ...).
    """

    def __init__(self, rosta: str, composition: bool = True) -> None:
        super().__init__()
        self.rosta = rosta
        self.heads = ["TT", "FT", "BT"] if rosta == "RIM" else [rosta]
        self.composition = composition

    def _fusion_terms(self, prefix: str, pred: torch.Tensor, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        alpha = batch["alpha"]
        terms = {
            f"{prefix}_alpha": L.alpha_loss(pred, alpha),
            f"{prefix}_laplacian": L.laplacian_loss(pred, alpha),
        }
        if self.composition and "fg" in batch and "bg" in batch:
            terms[f"{prefix}_composition"] = L.composition_loss(pred, alpha, batch["fg"], batch["bg"])
        return terms

    def forward(self, out: GFMOutput, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        rim = self.rosta == "RIM"
        heads = out.rosta if rim else {self.rosta: out}
        terms: dict[str, torch.Tensor] = {}
        for head in self.heads:
            result = heads[head]
            glance, focus, mask = (batch[_key(k, head, rim)] for k in ("glance", "focus", "focus_mask"))
            terms[_key("glance_ce", head, rim)] = L.glance_cross_entropy(result.glance_logits, glance)
            terms[_key("focus_alpha", head, rim)] = L.alpha_loss(result.focus, focus, mask)
            terms[_key("focus_laplacian", head, rim)] = L.laplacian_loss(result.focus, focus, mask)
            for name, value in self._fusion_terms("fusion", result.fusion, batch).items():
                terms[_key(name, head, rim)] = value
        if rim:
            raw = out.fusion_raw if out.fusion_raw is not None else out.fusion
            terms.update(self._fusion_terms("rim", raw, batch))
        terms["total"] = torch.stack(list(terms.values())).sum()
        return terms
