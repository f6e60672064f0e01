"""Segmentation models run through onnxruntime: masks of where the subject is.

Below both data preparation (teacher labels) and inference (guides): imports
neither, and no PyTorch. See :mod:`gfm.segmentation.onnx_runner`.
"""

from gfm.segmentation.onnx_runner import OUTPUT_SCALINGS, OnnxSegmenter, SegmenterSpec

__all__ = ["OUTPUT_SCALINGS", "OnnxSegmenter", "SegmenterSpec"]
