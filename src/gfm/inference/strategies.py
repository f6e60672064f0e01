"""Test-time resolution strategies of the paper (Sect. 5.5.4, Table 6).

A strategy runs the glance half of the network at one scale and the focus
half at another; when both scales are equal the network runs once.

=========== ============ ============ =====================================
name        glance scale focus scale  note
=========== ============ ============ =====================================
``hybrid``  1/3          1/2          the paper's best (default)
``single``  5/13         5/13         one pass, almost as good (d = 2.6)
``resize``  1/2          1/2          one pass
=========== ============ ============ =====================================
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from gfm.errors import ConfigError


@dataclass(frozen=True)
class Strategy:
    """Down-sampling ratios of the glance and focus passes (relative to the input)."""

    name: str
    glance_scale: float
    focus_scale: float

    @property
    def single_pass(self) -> bool:
        return self.glance_scale == self.focus_scale

    @classmethod
    def from_ratios(cls, d_glance: float, d_focus: float) -> Strategy:
        """Hybrid strategy with scales ``1/d_glance`` and ``1/d_focus`` (the paper's d1, d2)."""
        if d_glance <= 0 or d_focus <= 0:
            raise ConfigError(f"down-sampling ratios must be positive, got {d_glance}, {d_focus}")
        name = f"d{Fraction(d_glance).limit_denominator(10)}_{Fraction(d_focus).limit_denominator(10)}"
        return cls(name, 1.0 / d_glance, 1.0 / d_focus)


STRATEGIES: dict[str, Strategy] = {
    "hybrid": Strategy("hybrid", 1 / 3, 1 / 2),
    "single": Strategy("single", 5 / 13, 5 / 13),
    "resize": Strategy("resize", 1 / 2, 1 / 2),
    # With a guide (gfm.inference.guide) the semantics come from the guide: the glance
    # runs at single's 5/13, the focus at hybrid's 1/2 for a finer edge (measured best for
    # gfm-lite with ISNet on the held-out photos of its model card).
    "guided": Strategy("guided", 5 / 13, 1 / 2),
}


def get_strategy(strategy: str | Strategy) -> Strategy:
    """The strategy of that name (``"hybrid"``, ``"single"`` ...), or ``strategy`` itself."""
    if isinstance(strategy, Strategy):
        return strategy
    try:
        return STRATEGIES[strategy]
    except KeyError:
        raise ConfigError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)} (or ensemble with several models)") from None
