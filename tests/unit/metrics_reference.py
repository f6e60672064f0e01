"""Slow, obviously-correct reference of the connectivity metric (test oracle).

A line-by-line transcription of the algorithm of the released GFM evaluation
code, minus its unused distance transform, with scipy's labelling. The fast
``gfm.metrics.conn`` must return exactly the same float.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def conn_reference(pred: np.ndarray, gt: np.ndarray, step: float = 0.1) -> float:
    h, w = pred.shape
    thresholds = np.arange(0, 1.1, step)
    l_map = -1 * np.ones((h, w), dtype=np.float32)
    for i in range(1, thresholds.size):
        common = (pred >= thresholds[i]) & (gt >= thresholds[i])
        # default structure of ndimage.label is the 4-connectivity cross
        labels, count = ndimage.label(common)
        if count == 0:
            continue
        sizes = np.bincount(labels.ravel())[1:]
        # argmax takes the first maximum: the lowest label, i.e. the component
        # met first in row-major order (scipy and skimage number that way)
        largest = int(np.argmax(sizes)) + 1
        omega = np.zeros((h, w), dtype=np.float32)
        omega[labels == largest] = 1
        flag = (l_map == -1) & (omega == 0)
        l_map[flag] = thresholds[i - 1]
    l_map[l_map == -1] = 1
    d_pred = pred - l_map
    d_gt = gt - l_map
    phi_pred = 1 - d_pred * (d_pred >= 0.15).astype(np.float32)
    phi_gt = 1 - d_gt * (d_gt >= 0.15).astype(np.float32)
    return float(np.sum(np.abs(phi_pred - phi_gt)) / 1000)
