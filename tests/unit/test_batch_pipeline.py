"""The background writer of gfm matte: every image is reported once, in order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gfm.inference.batch import MatteJob
from gfm.inference.batch_writer import OutputPipeline


@pytest.mark.parametrize("threaded", [True, False])
def test_outputs_written_and_failures_reported(tmp_path: Path, threaded: bool) -> None:
    image = np.zeros((8, 10, 3), np.uint8)
    alpha = np.linspace(0, 1, 80, dtype=np.float32).reshape(8, 10)
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where a folder is needed")
    jobs = [MatteJob(Path(f"{name}.jpg"), Path(name)) for name in ("a", "b", "c")]
    events: list[tuple[str, str]] = []
    args = (["alpha", "cutout"], image, alpha, None, "none", (0, 0, 0), 8)
    with OutputPipeline(lambda job: events.append(("done", job.relative_stem.name)),
                        lambda job, error: events.append(("failed", job.relative_stem.name)), threaded=threaded) as pipeline:
        pipeline.submit(jobs[0], tmp_path / "out", *args)
        pipeline.submit(jobs[1], blocked / "out", *args)  # cannot create a folder under a file
        pipeline.submit(jobs[2], tmp_path / "out", *args)
    assert events == [("done", "a"), ("failed", "b"), ("done", "c")]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_alpha.png", "a_cutout.png", "c_alpha.png", "c_cutout.png"]
