"""What the in-process tests of ``gfm serve`` share: a service on the tiny network
(their small real photo is the ``photo`` fixture of this folder's conftest)."""

from __future__ import annotations

from typing import Any

import torch

import gfm
from gfm.inference import GuidedPredictor, Predictor
from gfm.serve.service import MattingService
from gfm.serve.settings import ServeSettings

#: The base URL of the test clients: a host the server trusts (gfm.serve.guard).
LOCAL = "http://127.0.0.1:8000"
TINY_DESCRIPTION = {"summary": "tiny-TT (test)", "strategy": "hybrid", "device": "cpu"}


def tiny_service(settings: ServeSettings | None = None, describe: dict[str, Any] | None = None) -> MattingService:
    """A matting service on the tiny network (seeded weights), with ``settings`` or the defaults."""
    torch.manual_seed(0)
    predictor = Predictor(gfm.create_model("tiny", "TT"), device="cpu")
    return MattingService(GuidedPredictor(predictor), settings or ServeSettings(), describe or dict(TINY_DESCRIPTION))
