"""What a training run reports: rank 0's logs (``metrics.jsonl``, ``train.csv``,
``val.csv``, TensorBoard if asked) and its messages on standard error."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

from gfm.engine.distributed import DistInfo
from gfm.errors import ConfigError
from gfm.io.atomic import atomic_write


class RunLog:
    """Rank 0's logs: JSONL of every event, CSVs of training and validation rows."""

    def __init__(self, run_dir: Path, enabled: bool, tensorboard: bool, resume_step: int | None) -> None:
        self.enabled = enabled
        self.run_dir = run_dir
        self.writer = None
        if not enabled:
            return
        if resume_step is not None:  # drop what a killed run logged after its last checkpoint
            self._truncate(resume_step)
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise ConfigError("log.tensorboard needs the tensorboard package: pip install tensorboard") from None
            self.writer = SummaryWriter(str(run_dir / "tensorboard"))

    def _truncate(self, step: int) -> None:
        path = self.run_dir / "metrics.jsonl"
        if path.exists():
            rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            kept = [r for r in rows if r.get("step", 0) <= step]
            with atomic_write(path) as tmp:
                tmp.write_text("".join(json.dumps(r) + "\n" for r in kept))
            for kind in ("train", "val"):
                self._rewrite_csv(kind, [r for r in kept if r.get("kind") == kind])

    def _rewrite_csv(self, kind: str, rows: list[dict[str, Any]]) -> None:
        path = self.run_dir / f"{kind}.csv"
        if not rows:
            path.unlink(missing_ok=True)
            return
        with atomic_write(path) as tmp, tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

    def log(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with (self.run_dir / "metrics.jsonl").open("a") as f:
            f.write(json.dumps(row) + "\n")
        path = self.run_dir / f"{row['kind']}.csv"
        new = not path.exists()
        with path.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)
        if self.writer is not None:
            for key, value in row.items():
                if isinstance(value, float) and key not in ("time",):
                    self.writer.add_scalar(f"{row['kind']}/{key}", value, row["step"])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def say(info: DistInfo, message: str) -> None:
    """Print ``message`` on standard error from rank 0 only (one line a run, not one a process)."""
    if info.is_main:
        print(message, file=sys.stderr, flush=True)
