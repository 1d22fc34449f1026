"""`litgen check`: run Lightning programs with fast_dev_run forced in a sandboxed subprocess; say if they trained."""

# Never import torch or lightning here: the work happens in a subprocess (litgen/_probe.py) that
# imports Lightning once and forks one child per target. litgen/check_targets.py decides what to
# run; this module starts that subprocess in its own session, enforces the outer deadlines, and
# judges each child's report.

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from litgen._events import EventReader, parse_event

# a torch-free module; only its main() imports Lightning
from litgen._probe import (
    kill_process_group,
)
from litgen._proctree import kill_descendants
from litgen.check_targets import EXPECTED_TARGET, CheckTarget, resolve_target
from litgen.errors import UsageError
from litgen.scratch import scratch as scratch_folder
from litgen.wording import plural

OUTPUT_TAIL_LINES = 40
IMPORT_ALLOWANCE_S = 120.0  # importing Lightning is ~4 s here; a cold disk can be far slower
GRACE_S = 10.0  # the outer safety net fires this long after the probe should have killed a child
# Defaults for every Trainer the program builds (Lightning reads PL_TRAINER_<ARG>); the probe also
# forces them as keyword arguments, because explicit arguments win over these (and a Trainer
# subclass reads PL_<SUBCLASS>_* instead). No PL_TRAINER_LOGGER / ENABLE_CHECKPOINTING: fast_dev_run
# already suppresses both, and turning them off breaks programs (see
# _probe_trainer.force_cpu_fast_dev_run).
FORCED_ENV = {
    "PL_TRAINER_FAST_DEV_RUN": "1",
    "PL_TRAINER_ACCELERATOR": "cpu",
    "PL_TRAINER_DEVICES": "1",
    "CUDA_VISIBLE_DEVICES": "",
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "WANDB_MODE": "offline",
    "MPLBACKEND": "Agg",
    "PYTHONUNBUFFERED": "1",  # output written just before a hang or a kill still reaches the tail
    "PYTHONDONTWRITEBYTECODE": "1",  # leave no __pycache__ in the user's folders
}
# `python -c` so that the probe is found even when litgen is not installed; the probe's folder and
# the '' (cwd) entry of -c are removed again, so the program sees the sys.path `python x.py` gives.
_BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv[1]); from litgen._probe import main; del sys.path[0]\n"
    "if sys.path and sys.path[0] == '': del sys.path[0]\n"
    "sys.exit(main(sys.argv[2:]))"
)


@dataclass
class CheckResult:
    """The verdict on one program: ok only if it exited normally after at least one training batch."""

    target: Path
    ok: bool
    summary: str = ""
    reason: str = ""
    output_tail: str = ""
    notes: list[str] = field(default_factory=list)
    exit_code: int | None = None
    timed_out: bool = False
    trainers: int = 0
    train_batches: int = 0
    val_batches: int = 0
    elapsed_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["target"] = str(self.target)
        return data


Progress = Callable[[str], None]  # told, as it happens, what the probe is doing (one line each)


def check_programs(
    paths: Sequence[Path],
    *,
    timeout: float = 300.0,
    script_args: Sequence[str] = (),
    cpu_map: bool = False,
    progress: Progress | None = None,
) -> list[CheckResult]:
    """Run each program with fast_dev_run forced (CPU, offline, scratch cwd, TIMEOUT s each) and judge it.

    CPU_MAP: also map GPU-only settings of programs that target the CPU themselves (see _probe_trainer).
    """
    if not 0 < timeout < math.inf:
        raise UsageError(f"--timeout must be a positive number of seconds, got {timeout:g}")
    targets = [
        resolve_target(Path(path), script_args) for path in paths
    ]  # every usage error before any run
    if not targets:
        raise UsageError(f"nothing to check; expected {EXPECTED_TARGET}")
    with scratch_folder("litgen-check-") as scratch:
        extras = [{"cpu_map": cpu_map} for _ in targets]
        return run_probe(
            targets, timeout=timeout, scratch=scratch, extras=extras, progress=progress
        )


def run_probe(
    targets: Sequence[CheckTarget],
    *,
    timeout: float,
    scratch: Path,
    env: dict[str, str] | None = None,
    extras: Sequence[dict[str, Any]] | None = None,
    cleanup_dir: Path | None = None,
    progress: Progress | None = None,
) -> list[CheckResult]:
    """Run TARGETS through one probe process in SCRATCH (which the caller owns and removes).

    ENV replaces FORCED_ENV on top of os.environ; EXTRAS[i] is merged into target i's spec (a probe
    plugin and its options, see litgen/_probe.py). Every target gets a verdict, even if a probe dies.
    CLEANUP_DIR (default SCRATCH) is what the probe removes if litgen is killed without a chance to.
    """
    session = _ProbeSession(
        list(targets),
        timeout,
        scratch,
        env=FORCED_ENV if env is None else env,
        extras=extras,
        cleanup_dir=cleanup_dir or scratch,
        progress=progress,
    )
    return session.run()


def read_report(path: Path) -> dict[str, Any] | None:
    """The probe's JSON report for one program, or None when it is missing or unreadable."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    counters = ("trainers", "train_batches", "val_batches")
    if not isinstance(report, dict) or not all(
        isinstance(report.get(key), int) for key in counters
    ):
        return None
    return report


def read_output_tail(path: Path, lines: int = OUTPUT_TAIL_LINES) -> str:
    """The last LINES lines of a captured output file (reading only its end: outputs can be huge)."""
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - 64 * 1024))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def judge(
    given: Path,
    *,
    end: dict[str, Any],
    report: dict[str, Any] | None,
    output_tail: str,
    timeout: float,
) -> CheckResult:
    """Turn the probe's end event and report for one program into a verdict with a one-line reason."""
    report = report or {}
    result = CheckResult(
        target=given,
        ok=False,
        output_tail=output_tail,
        notes=[str(note) for note in report.get("notes", [])],
        exit_code=end.get("exit_code"),
        timed_out=bool(end.get("timed_out")),
        trainers=report.get("trainers", 0),
        train_batches=report.get("train_batches", 0),
        val_batches=report.get("val_batches", 0),
        elapsed_s=float(end.get("elapsed_s") or 0.0),
    )
    survivors = [int(pid) for pid in end.get("survivors") or ()]
    if survivors:
        result.notes.append(
            "could not kill these processes the program started: " + ", ".join(map(str, survivors))
        )
    if result.timed_out:
        tree = (
            "process tree killed"
            if not survivors
            else "process tree killed, except the processes noted"
        )
        result.reason = f"timed out after {timeout:g} s ({tree})"
    elif end.get("failure"):
        result.reason = str(end["failure"])
    elif end.get("signal"):
        result.reason = f"killed by signal {end['signal']}"
    elif result.exit_code != 0:
        detail = report.get("exception") or _last_line(output_tail)
        result.reason = f"exited with code {result.exit_code}" + (f": {detail}" if detail else "")
    elif not report:
        result.reason = (
            "the check process left no report, so it cannot tell whether a training step ran"
        )
    elif result.trainers == 0:
        result.reason = "no Lightning Trainer was created"
    elif result.train_batches == 0:
        result.reason = "a Trainer was created but no training step ran"
    else:
        result.ok = True
        result.summary = _summary(result)
    return result


def _last_line(text: str) -> str:
    return next((line.strip()[:300] for line in reversed(text.splitlines()) if line.strip()), "")


def _summary(result: CheckResult) -> str:
    trainers = f"{plural(result.trainers, 'Trainer')}, " if result.trainers > 1 else ""
    steps = f"{plural(result.train_batches, 'training step')}, {plural(result.val_batches, 'validation step')}"
    return f"{trainers}{steps} in {result.elapsed_s:.1f} s"


class _ProbeSession:
    """Runs the targets through one probe process; if a probe dies or hangs, a new one takes the rest."""

    def __init__(
        self,
        targets: list[CheckTarget],
        timeout: float,
        scratch: Path,
        *,
        env: dict[str, str],
        extras: Sequence[dict[str, Any]] | None = None,
        cleanup_dir: Path | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.progress = progress or (lambda line: None)
        self.cleanup_dir = cleanup_dir or scratch
        self.targets = targets
        self.timeout = timeout
        self.scratch = scratch
        self.env = env
        self.extras = list(extras) if extras is not None else [{} for _ in targets]
        self.deadline = time.monotonic() + IMPORT_ALLOWANCE_S + len(targets) * (timeout + GRACE_S)
        self.specs = [self._spec(index, target) for index, target in enumerate(targets)]
        self.results: dict[int, CheckResult] = {}
        self.running: tuple[int, int] | None = (
            None  # (target index, process group) of the child now running
        )

    def _spec(self, index: int, target: CheckTarget) -> dict[str, Any]:
        folder = self.scratch / str(index)
        cwd = folder / "cwd"  # reports and output live beside, not inside, the program's cwd
        cwd.mkdir(parents=True)
        sys_path = (
            [*target.sys_path, str(cwd)] if target.kind == "module" else list(target.sys_path)
        )
        return {
            "index": index,
            "kind": target.kind,
            "path": str(target.path),
            "module": target.module,
            "argv": list(target.argv),
            "sys_path": sys_path,
            "cwd": str(cwd),
            "report": str(folder / "report.json"),
            "output": str(folder / "output.log"),
            **self.extras[index],
        }

    def run(self) -> list[CheckResult]:
        attempt = 0
        pending = list(range(len(self.targets)))
        while pending:  # each attempt settles at least one target, so this ends
            self._run_probe(pending, attempt)
            pending = [index for index in pending if index not in self.results]
            attempt += 1
        return [self.results[index] for index in range(len(self.targets))]

    def _settle(self, index: int, end: dict[str, Any]) -> None:
        spec = self.specs[index]
        self.results[index] = judge(
            self.targets[index].given,
            end=end,
            report=read_report(Path(spec["report"])),
            output_tail=read_output_tail(Path(spec["output"])),
            timeout=self.timeout,
        )

    def _fail_all(self, pending: list[int], reason: str) -> None:
        for index in pending:
            if index not in self.results:
                self._settle(index, {"failure": reason})

    def _run_probe(self, pending: list[int], attempt: int) -> None:
        spec_path = self.scratch / f"spec-{attempt}.json"
        spec = {
            "timeout": self.timeout,
            "cleanup_dir": str(self.cleanup_dir),
            "targets": [self.specs[index] for index in pending],
        }
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        log_path = self.scratch / f"probe-{attempt}.log"
        package_root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, **self.env}
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-c", _BOOTSTRAP, package_root, str(spec_path)],
                cwd=self.scratch,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,  # its own process group: one killpg ends the probe tree
            )
        self.running = None
        try:
            assert process.stdout is not None
            with EventReader(process.stdout.fileno()) as lines:
                self._follow(lines, pending)
        finally:
            # Its descendants first, while it is alive to adopt their orphans (it is their
            # subreaper); before wait(): the pid cannot have been reused yet.
            kill_descendants(process.pid)
            kill_process_group(process.pid)
            if self.running is not None:
                kill_process_group(self.running[1])
            process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if not any(index in self.results for index in pending):
            # the probe stopped before settling anything (it could not start, or died at once)
            reason = f"the check process stopped (exit code {process.returncode}) before running this program"
            detail = read_output_tail(log_path, 1).strip()
            self._fail_all(pending, f"{reason}: {detail}" if detail else reason)

    def _follow(self, lines: EventReader, pending: list[int]) -> None:
        """Read the probe's events until it ends or a deadline passes, settling targets as they end."""
        phase_deadline = min(time.monotonic() + IMPORT_ALLOWANCE_S, self.deadline)
        while True:
            try:
                line = lines.next_line(timeout=phase_deadline - time.monotonic())
            except TimeoutError:
                if self.running is not None:  # the probe failed to enforce the timeout itself
                    self._settle(
                        self.running[0], {"timed_out": True, "elapsed_s": self.timeout + GRACE_S}
                    )
                    return
                if time.monotonic() >= self.deadline:
                    self._fail_all(
                        pending, f"timed out after {self.timeout:g} s (process tree killed)"
                    )
                elif not any(index in self.results for index in pending):
                    self._fail_all(
                        pending, f"importing Lightning took over {IMPORT_ALLOWANCE_S:g} s"
                    )
                return
            if line is None:  # the probe exited
                if self.running is not None:
                    self._settle(
                        self.running[0],
                        {"failure": "the check process died while this program ran"},
                    )
                return
            event = parse_event(line)
            now = time.monotonic()
            kind = event.get("event")
            if kind == "import-failed":
                self._fail_all(
                    pending,
                    f"could not import Lightning with {sys.executable}: {event.get('error')}",
                )
            elif kind == "start":
                self.running = (int(event["index"]), int(event["pgid"]))
                phase_deadline = min(now + self.timeout + GRACE_S, self.deadline)
                self.progress(f"running {self.targets[self.running[0]].given} ...")
            elif kind == "end":
                index = int(event["index"])
                self._settle(index, event)
                self.running = None
                phase_deadline = min(now + GRACE_S, self.deadline)
                self.progress(
                    f"finished {self.targets[index].given} in {float(event.get('elapsed_s') or 0):.1f} s"
                )
            elif kind == "ready":
                phase_deadline = min(now + GRACE_S, self.deadline)
                self.progress(
                    f"imported Lightning in {float(event.get('import_s') or 0):.1f} s (shared by every program)"
                )
