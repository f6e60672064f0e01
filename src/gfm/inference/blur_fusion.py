"""Moved to :mod:`gfm.data.blur_fusion` (with :mod:`gfm.data.band_solver`, which builds on it);
this name keeps working."""

from gfm.data.blur_fusion import checked_alpha, coarse_means, estimate_foreground_blur_fusion

__all__ = ["checked_alpha", "coarse_means", "estimate_foreground_blur_fusion"]
