"""Alpha-matte error metrics, exactly as the GFM paper's tables compute them.

Every function takes the predicted and the ground-truth alpha as ``(H, W)``
floating-point arrays in [0, 1] (and, for the trimap-restricted metrics, a
``(H, W)`` trimap with 0 = background, 128 = transition, 255 = foreground) and
returns a Python ``float``. Arithmetic is float64 throughout.

Conventions (those of the released GFM evaluation code, which produced the
numbers of the paper's Table 1; lower is better for every metric):

======== ============================================================== ==========
metric   definition                                                     range
======== ============================================================== ==========
SAD      ``sum |pred - gt| / 1000`` over the whole image                [0, H*W/1000]
MSE      ``mean (pred - gt)**2`` over the whole image                   [0, 1]
MAD      ``mean |pred - gt|`` over the whole image                      [0, 1]
GRAD     Gaussian-derivative gradient magnitudes (sigma 1.4), summed    >= 0
         squared difference ``/ 10`` (not the DIM protocol's Grad)
CONN     connectivity error, threshold step 0.1, ``/ 1000``             >= 0
SAD_TRAN pred forced to the trimap's 0 / 1 outside the transition,      [0, H*W/1000]
         then ``sum |pred - gt| / 1000`` over the whole image
MSE_TRAN same forced pred, ``sum (pred - gt)**2 / #transition pixels``  >= 0
MAD_TRAN same forced pred, ``sum |pred - gt| / #transition pixels``     >= 0
SAD_FG   ``sum |pred - gt| / 1000`` over trimap == 255                  >= 0
SAD_BG   ``sum |pred - gt| / 1000`` over trimap == 0                    >= 0
======== ============================================================== ==========

``MSE_TRAN`` and ``MAD_TRAN`` are ``nan`` when the trimap has no transition
pixel (the released code divides by zero there). Inputs are checked first
(:mod:`gfm.metrics.checks`): anything else raises :class:`~gfm.errors.InputError`.

Reproducing published numbers from 8-bit PNG files needs the alphas as
``png.astype(np.float64) / 255``: float32 values such as ``float32(153 / 255)``
land on the other side of a connectivity threshold (``0.6000000000000001``)
than the float64 ones. :func:`gfm.metrics.files.load_alpha_exact` reads
files that way.

Example::

    >>> import numpy as np
    >>> gt = np.zeros((4, 4)); gt[1:3, 1:3] = 1.0
    >>> pred = gt.copy(); pred[0, 0] = 0.5
    >>> sad(pred, gt)
    0.0005
"""

from __future__ import annotations

import numpy as np

from gfm.metrics.checks import check_pair, check_trimap
from gfm.metrics.trimap import TRIMAP_BG, TRIMAP_FG, TRIMAP_TRANSITION

__all__ = [
    "CONN_THRESHOLDS",
    "METRIC_NAMES",
    "conn",
    "evaluate_alpha",
    "grad",
    "mad",
    "mad_tran",
    "mse",
    "mse_tran",
    "sad",
    "sad_bg",
    "sad_fg",
    "sad_tran",
]

#: Keys of :func:`evaluate_alpha`'s result, in the order reports list them.
METRIC_NAMES: tuple[str, ...] = (
    "SAD",
    "MSE",
    "MAD",
    "GRAD",
    "CONN",
    "SAD_TRAN",
    "MSE_TRAN",
    "MAD_TRAN",
    "SAD_FG",
    "SAD_BG",
)

#: Connectivity thresholds: the float64 values of ``numpy.arange(0, 1.1, 0.1)``
#: (the fourth is 0.30000000000000004 and the seventh 0.6000000000000001, not
#: 0.3 and 0.6; 8-bit alphas such as 153/255 = 0.6 sit exactly on that edge).
CONN_THRESHOLDS: np.ndarray = np.arange(0.0, 1.1, 0.1)
CONN_THRESHOLDS.setflags(write=False)

# The level map l(p) of the connectivity metric is stored in float32 by the
# released code; its values are these.
_LEVELS_F32 = np.append(CONN_THRESHOLDS[:-1].astype(np.float32), np.float32(1.0))
_UNSET = np.uint8(len(_LEVELS_F32) - 1)  # index of level 1.0 = "never left the component"

GRAD_SIGMA = 1.4
CONN_PHI_THRESHOLD = 0.15



# --------------------------------------------------------------------------
# unchecked implementations (float64 (H, W) inputs, validated uint8 trimap)
# --------------------------------------------------------------------------


def _grad(pred: np.ndarray, gt: np.ndarray) -> float:
    from scipy.ndimage import gaussian_filter

    def magnitude(alpha: np.ndarray) -> np.ndarray:
        # float32 output, as the released code: scipy then keeps the
        # intermediate of the separable filter in float32 as well.
        dx = gaussian_filter(alpha, sigma=GRAD_SIGMA, order=[1, 0], output=np.float32)
        dy = gaussian_filter(alpha, sigma=GRAD_SIGMA, order=[0, 1], output=np.float32)
        return np.sqrt(dx * dx + dy * dy)

    error = magnitude(pred) - magnitude(gt)
    return float(np.sum(np.square(error)) / 10)


def _largest_component(binary: np.ndarray) -> np.ndarray | None:
    """Mask of the largest 4-connected component of ``binary`` (uint8 0/1).

    Ties go to the component whose first pixel comes first in row-major
    order (the order in which scipy and scikit-image number components).
    Returns ``None`` when ``binary`` has no foreground pixel.
    """
    import cv2

    count, labels = cv2.connectedComponents(binary, connectivity=4, ltype=cv2.CV_32S)
    if count <= 1:
        return None
    sizes = np.bincount(labels.ravel(), minlength=count)
    sizes[0] = 0  # label 0 is the background
    largest = int(sizes.max())
    candidates = np.flatnonzero(sizes == largest)
    if candidates.size == 1:
        best = int(candidates[0])
    else:
        flat = labels.ravel()
        best = min((int(np.argmax(flat == c)), int(c)) for c in candidates)[1]
    return labels == best


def _conn(pred: np.ndarray, gt: np.ndarray) -> float:
    # l(p) = the last threshold before the one at which p first leaves the
    # largest common component; 1 if it never leaves. Thresholds whose common
    # set is empty are skipped (so are all higher ones: the sets shrink).
    common_min = np.minimum(pred, gt)  # (pred >= t) & (gt >= t)  <=>  min >= t
    first = common_min >= CONN_THRESHOLDS[1]
    rows = np.flatnonzero(first.any(axis=1))
    if rows.size == 0:
        level = np.full(pred.shape, _UNSET, dtype=np.uint8)
    else:
        # Every later common set lies inside the first one's bounding box;
        # pixels outside it leave at the first threshold (level index 0).
        cols = np.flatnonzero(first.any(axis=0))
        box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        crop = np.ascontiguousarray(common_min[box])
        # inside[p]: p was in every largest component so far; survived[p]:
        # how many thresholds that lasted (= index of its level).
        inside = np.ones(crop.shape, dtype=bool)
        survived = np.zeros(crop.shape, dtype=np.uint8)
        for i in range(1, CONN_THRESHOLDS.size):
            omega = _largest_component((crop >= CONN_THRESHOLDS[i]).view(np.uint8))
            if omega is None:
                break
            inside &= omega
            survived += inside.view(np.uint8)
        survived[inside] = _UNSET
        level = np.zeros(pred.shape, dtype=np.uint8)
        level[box] = survived

    level_map = _LEVELS_F32.astype(np.float64)[level]  # exact float32 values

    def phi(alpha: np.ndarray) -> np.ndarray:
        # 1 - d * (d >= 0.15), written in place
        d = np.subtract(alpha, level_map)
        low = d < CONN_PHI_THRESHOLD
        np.subtract(1.0, d, out=d)
        d[low] = 1.0
        return d

    error = phi(pred)
    np.subtract(error, phi(gt), out=error)
    np.abs(error, out=error)
    return float(np.sum(error) / 1000)


def _region_sums(abs_diff: np.ndarray, trimap: np.ndarray, value: int) -> float:
    return float(np.sum(abs_diff, where=trimap == value))


def _trimap_forced(pred: np.ndarray, trimap: np.ndarray) -> np.ndarray:
    forced = pred.copy()
    forced[trimap == TRIMAP_FG] = 1.0
    forced[trimap == TRIMAP_BG] = 0.0
    return forced


def _tran(pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray) -> tuple[float, float, float]:
    diff = _trimap_forced(pred, trimap) - gt
    abs_sum = float(np.sum(np.abs(diff)))
    sq_sum = float(np.sum(diff * diff))
    pixels = int(np.count_nonzero(trimap == TRIMAP_TRANSITION))
    if pixels == 0:
        return abs_sum / 1000, float("nan"), float("nan")
    return abs_sum / 1000, sq_sum / pixels, abs_sum / pixels


# --------------------------------------------------------------------------
# public metrics
# --------------------------------------------------------------------------


def sad(pred: np.ndarray, gt: np.ndarray) -> float:
    """Sum of absolute differences over the whole image, divided by 1000.

    Args:
        pred, gt: ``(H, W)`` float alphas in [0, 1].

    Returns:
        ``sum |pred - gt| / 1000``, in [0, H*W/1000] (thousands of alpha units).
    """
    pred, gt = check_pair(pred, gt)
    return float(np.sum(np.abs(pred - gt)) / 1000)


def mse(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean squared error over all pixels, in [0, 1].

    Args:
        pred, gt: ``(H, W)`` float alphas in [0, 1].
    """
    pred, gt = check_pair(pred, gt)
    diff = pred - gt
    return float(np.sum(diff * diff) / diff.size)


def mad(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean absolute difference over all pixels, in [0, 1].

    Args:
        pred, gt: ``(H, W)`` float alphas in [0, 1].
    """
    pred, gt = check_pair(pred, gt)
    return float(np.sum(np.abs(pred - gt)) / pred.size)


def grad(pred: np.ndarray, gt: np.ndarray) -> float:
    """Gradient error of the released GFM code (not the DIM protocol's Grad).

    Both alphas are filtered with first-order Gaussian derivatives (sigma 1.4,
    ``scipy.ndimage.gaussian_filter`` with ``order=[1, 0]`` and ``[0, 1]``,
    'reflect' borders, float32 output); the result is the sum over pixels of
    the squared difference of the gradient magnitudes, divided by 10.

    Args:
        pred, gt: ``(H, W)`` float alphas in [0, 1].

    Returns:
        A float >= 0 (unit: squared alpha-per-pixel gradients / 10).
    """
    pred, gt = check_pair(pred, gt)
    return _grad(pred, gt)


def conn(pred: np.ndarray, gt: np.ndarray) -> float:
    """Connectivity error (Rhemann et al. 2009) with the released GFM conventions.

    For each threshold ``t`` of :data:`CONN_THRESHOLDS` after 0, ``omega_t`` is
    the largest 4-connected component of ``(pred >= t) & (gt >= t)``; a pixel's
    level ``l`` is the threshold before the first one at which it is not in
    ``omega_t`` (1 if it always is; a threshold with an empty common set is
    skipped). With ``d = alpha - l`` and ``phi = 1 - d * (d >= 0.15)`` the
    error is ``sum |phi_pred - phi_gt| / 1000``.

    Identical to the released implementation (its level map is float32, so is
    ours) but without its unused per-threshold distance transform: one
    OpenCV labelling and one ``bincount`` a threshold, inside the bounding box
    of the first common set.

    Args:
        pred, gt: ``(H, W)`` float alphas in [0, 1].

    Returns:
        A float in [0, H*W/1000].
    """
    pred, gt = check_pair(pred, gt)
    return _conn(pred, gt)


def sad_tran(pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray) -> float:
    """SAD after forcing ``pred`` to 1 where trimap is 255 and 0 where it is 0.

    The sum runs over the whole image (so it includes the ground truth's own
    deviation from 0/1 in the trimap's solid areas), divided by 1000.

    Args:
        pred, gt: ``(H, W)`` float alphas in [0, 1].
        trimap: ``(H, W)`` uint8, 0 background / 128 transition / 255 foreground.
    """
    pred, gt = check_pair(pred, gt)
    return _tran(pred, gt, check_trimap(trimap, pred.shape))[0]


def mse_tran(pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray) -> float:
    """Squared error of the trimap-forced ``pred`` / number of transition pixels.

    ``nan`` when the trimap has no 128 pixel. Arguments as :func:`sad_tran`.
    """
    pred, gt = check_pair(pred, gt)
    return _tran(pred, gt, check_trimap(trimap, pred.shape))[1]


def mad_tran(pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray) -> float:
    """Absolute error of the trimap-forced ``pred`` / number of transition pixels.

    ``nan`` when the trimap has no 128 pixel. Arguments as :func:`sad_tran`.
    """
    pred, gt = check_pair(pred, gt)
    return _tran(pred, gt, check_trimap(trimap, pred.shape))[2]


def sad_fg(pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray) -> float:
    """``sum |pred - gt| / 1000`` over the trimap's foreground (255) pixels.

    Arguments as :func:`sad_tran`.
    """
    pred, gt = check_pair(pred, gt)
    trimap = check_trimap(trimap, pred.shape)
    return _region_sums(np.abs(pred - gt), trimap, TRIMAP_FG) / 1000


def sad_bg(pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray) -> float:
    """``sum |pred - gt| / 1000`` over the trimap's background (0) pixels.

    Arguments as :func:`sad_tran`.
    """
    pred, gt = check_pair(pred, gt)
    trimap = check_trimap(trimap, pred.shape)
    return _region_sums(np.abs(pred - gt), trimap, TRIMAP_BG) / 1000


def evaluate_alpha(pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray) -> dict[str, float]:
    """All ten metrics of one prediction, validating the inputs once.

    Args:
        pred, gt: ``(H, W)`` float alphas in [0, 1].
        trimap: ``(H, W)`` uint8, 0 background / 128 transition / 255 foreground.

    Returns:
        ``{name: value}`` for every name of :data:`METRIC_NAMES`, in that order.
    """
    pred, gt = check_pair(pred, gt)
    trimap = check_trimap(trimap, pred.shape)
    diff = pred - gt
    abs_diff = np.abs(diff)
    abs_sum = float(np.sum(abs_diff))
    sad_t, mse_t, mad_t = _tran(pred, gt, trimap)
    return {
        "SAD": abs_sum / 1000,
        "MSE": float(np.sum(diff * diff) / diff.size),
        "MAD": abs_sum / diff.size,
        "GRAD": _grad(pred, gt),
        "CONN": _conn(pred, gt),
        "SAD_TRAN": sad_t,
        "MSE_TRAN": mse_t,
        "MAD_TRAN": mad_t,
        "SAD_FG": _region_sums(abs_diff, trimap, TRIMAP_FG) / 1000,
        "SAD_BG": _region_sums(abs_diff, trimap, TRIMAP_BG) / 1000,
    }
