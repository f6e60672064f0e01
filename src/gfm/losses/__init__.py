"""Losses: pure functions (:mod:`gfm.losses.functional`) and the GFM loss module."""

from gfm.losses.functional import alpha_loss, composition_loss, glance_cross_entropy, laplacian_loss, laplacian_pyramid
from gfm.losses.gfm_loss import GFMLoss

__all__ = ["GFMLoss", "alpha_loss", "composition_loss", "glance_cross_entropy", "laplacian_loss", "laplacian_pyramid"]
