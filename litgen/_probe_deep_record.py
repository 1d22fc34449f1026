"""What each deep fit records, per process: the recorder callback, and the rank files DDP's processes leave."""

from __future__ import annotations

import importlib
import json
import math
import os
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from litgen._probe_deep_util import error_line, is_lightning_class, is_stateful, loss_of, plain
from litgen._proctree import kill_descendants


def callback_base(package: ModuleType) -> type:
    base: type = importlib.import_module(f"{package.__name__}.callbacks").Callback
    return base


def recorder_class(package: ModuleType) -> type:
    """A Callback (of the program's Lightning package) recording what a deep fit did, per process."""
    base = callback_base(package)

    class LitgenDeepRecorder(base):  # type: ignore[misc, valid-type]
        def __init__(
            self, rank_dir: str | None = None, checkpoint_after: tuple[int, str] | None = None
        ) -> None:
            self.rank_dir = rank_dir
            self.checkpoint_after = checkpoint_after  # (epoch, path): save one when that epoch ends
            self.checkpoint_step: int | None = None
            self.losses: list[float] = []
            self.batches = 0
            self.start: tuple[int, int] | None = None
            # (class, state_key, state, Lightning's own)
            self.states: list[tuple[str, str, Any, bool]] = []

        def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
            # after a resume restored the callbacks, before the sanity check can change their state
            self.states = [
                (
                    type(callback).__name__,
                    str(callback.state_key),
                    plain(callback.state_dict()),
                    is_lightning_class(callback),
                )
                for callback in trainer.callbacks
                if is_stateful(callback, base)
            ]

        def on_train_start(self, trainer: Any, pl_module: Any) -> None:
            # the loops are restored by now
            self.start = (int(trainer.global_step), int(trainer.current_epoch))
            self._write_rank(trainer, finished=False)

        def on_train_batch_end(
            self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
        ) -> None:
            self.batches += 1
            loss = loss_of(outputs)
            if loss is not None:
                self.losses.append(loss)
            self._write_rank(trainer, finished=False)

        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            # where an interrupted run's last checkpoint would be: what the resume sub-check resumes
            # from
            if (
                self.checkpoint_after is not None
                and trainer.current_epoch == self.checkpoint_after[0]
            ):
                trainer.save_checkpoint(self.checkpoint_after[1])
                self.checkpoint_step = int(trainer.global_step)

        def on_train_end(self, trainer: Any, pl_module: Any) -> None:
            self._write_rank(trainer, finished=True)

        def _write_rank(self, trainer: Any, *, finished: bool) -> None:
            # DDP: each rank is a forked process; its record reaches the judge as a file, even if it
            # hangs later
            if self.rank_dir is None:
                return
            record = {
                "rank": int(trainer.global_rank),
                "batches": self.batches,
                "planned": _batches_per_epoch(trainer),
                "global_step": int(trainer.global_step),
                "finished": finished,
                "metrics": sorted(trainer.callback_metrics) if finished else [],
            }
            path = os.path.join(self.rank_dir, f"rank{record['rank']}.json")
            with open(f"{path}.tmp", "w", encoding="utf-8") as handle:
                json.dump(record, handle)
            os.replace(f"{path}.tmp", path)

    return LitgenDeepRecorder


def _batches_per_epoch(trainer: Any) -> int | None:
    """The training batches this process will run each epoch (after limit_train_batches); None if unknown."""
    count = getattr(trainer, "num_training_batches", None)
    return int(count) if isinstance(count, (int, float)) and math.isfinite(count) else None


def rank_error(error: BaseException) -> str:
    """One line for a DDP failure; a rank's exception arrives as its whole traceback text, whose last line says it."""
    text = str(error)
    if "terminated with the following error" in text:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        rank = text.split("Process ", 1)[1].split(" ", 1)[0] if "Process " in text else "?"
        return f"rank {rank}: {lines[-1][:300]}" if lines else error_line(error)
    return error_line(error)


def rank_records(rank_dir: Path) -> dict[int, dict[str, Any]]:
    records: dict[int, dict[str, Any]] = {}
    for path in rank_dir.glob("rank*.json"):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # being replaced right now: the next look reads it
        records[int(record["rank"])] = record
    return records


def watch_ranks(
    rank_dir: Path,
    devices: int,
    deadline: float,
    stopped: threading.Event,
    expired: threading.Event,
) -> None:
    """Kill the DDP processes when they run out of time (setting EXPIRED), or as soon as every rank says how
    many batches it gets and the counts differ (they would hang until the timeout). Ends when STOPPED is set."""
    while not stopped.wait(0.1):
        planned = [record.get("planned") for record in rank_records(rank_dir).values()]
        uneven = len(planned) == devices and None not in planned and len(set(planned)) > 1
        if uneven or time.monotonic() >= deadline:
            if not uneven:
                expired.set()
            kill_descendants(os.getpid())
            return
