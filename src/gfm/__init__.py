"""Glance and Focus Matting (GFM): end-to-end image matting.

Public API (see the README for a tour)::

    import gfm
    model = gfm.create_model("r34", "TT")          # the paper's network, any variant
    model = gfm.load_model("gfm_r34_tt.pth")       # released or our own checkpoint
"""

from __future__ import annotations

__version__ = "0.1.0"
