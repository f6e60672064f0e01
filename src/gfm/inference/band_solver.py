"""Moved to :mod:`gfm.data.band_solver` (RSSN's foregrounds use it too, and gfm.data never
imports gfm.inference); this name keeps working."""

from gfm.data.band_solver import estimate_foreground_background_band, estimate_foreground_band, prepare

__all__ = ["estimate_foreground_background_band", "estimate_foreground_band", "prepare"]
