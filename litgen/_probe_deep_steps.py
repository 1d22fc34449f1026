"""The sub-checks of `litgen check --deep`, run inside the probe on the module and data the program's fit got."""

# Each public method is one sub-check: it returns (status, one-line reason) or raises DeepFailure.
# They run in order (fit, load, resume, determinism, ddp) on fresh Trainers built from the program's
# own Trainer arguments (litgen/_probe_deep_util.deep_trainer_kwargs), each with its own folder under
# the scratch run folder. torch and Lightning are imported inside the methods: this module is
# imported by the probe plugin, which must stay importable without them.

from __future__ import annotations

import copy
import importlib
import inspect
import os
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from litgen._probe_deep_util import (
    DeepFailure,
    DeepSkip,
    check_callback_states,
    deep_trainer_kwargs,
    error_line,
    first_difference,
    module_attributes,
    module_attributes_copy,
    rank_error,
    rank_records,
    recorder_class,
    watch_ranks,
    weights_only_reason,
)
from litgen._probe_trainer import as_list

Outcome = tuple[str, str]  # ("pass" | "skipped", reason); a failure raises DeepFailure
DDP_ALLOWANCE_S = 30.0  # a DDP fit may take this long plus DDP_FACTOR times the 1-process fit
DDP_FACTOR = 5.0


@dataclass(frozen=True)
class FitRecord:
    """What the short real fit did: where it ended, what it logged, and the checkpoint it left."""

    global_step: int
    epoch: int
    losses: tuple[float, ...]
    metrics: tuple[str, ...]
    checkpoint: Path  # saved when the fit ended
    interrupted: Path  # saved when its next-to-last epoch ended, as if the run had stopped there
    interrupted_step: int
    elapsed_s: float


@dataclass(frozen=True)
class SeedRequest:
    """How the program asked for reproducible runs (seed_everything, deterministic=True)."""

    seed: int
    workers: bool
    how: str


class DeepSteps:
    """The sub-checks for one program: the module, data and Trainer arguments of its first fit."""

    def __init__(self, package: ModuleType, program_kwargs: dict[str, Any], model: Any, data: dict[str, Any],
                 callbacks: list[Any], options: dict[str, Any]) -> None:
        import torch

        self.package = package
        self.program_kwargs = program_kwargs
        self.model = model
        self.data = data
        self.callbacks = callbacks
        self.run_dir = Path(options["run_dir"])
        self.epochs = int(options.get("epochs", 2))
        self.batches = int(options.get("batches", 4))
        self.devices = int(options.get("devices", 2))
        self.cpu_map = bool(options.get("cpu_map"))
        self.deadline = float(options["deadline"])
        self.unseeded: list[str] = options.get("unseeded", [])
        self.notes: list[str] = []
        self.seed = self._seed_request()
        self.initial = copy.deepcopy(model.state_dict())  # both seeded fits start from these weights
        self.initial_attributes = module_attributes(model)  # and these attributes
        self.fitted: FitRecord | None = None
        self.final_weights: dict[str, torch.Tensor] | None = None

    # --- building Trainers -----------------------------------------------------------------------

    def _fresh_callbacks(self, checkpoint_dir: Path) -> list[Any]:
        """A new copy of the program's callbacks (as a new run would build them), checkpoints into the scratch."""
        try:
            callbacks = copy.deepcopy(self.callbacks)
        except Exception:  # noqa: BLE001 - a callback holding a lock or a file: reuse it as it is
            callbacks = list(self.callbacks)
            self._note("the program's callbacks cannot be copied, so every deep fit reuses the same instances")
        checkpoint_class = self._lightning("callbacks").ModelCheckpoint
        for index, callback in enumerate(callbacks):
            if isinstance(callback, checkpoint_class) and callback.dirpath is not None:
                callback.dirpath = str(checkpoint_dir / f"checkpoints-{index}")  # never into the user's folders
        return callbacks

    def _trainer(self, name: str, *, epochs: int, share_checkpoints_with: str | None = None, devices: int = 1,
                 strategy: Any = "auto", rank_dir: str | None = None, checkpoint_after: tuple[int, str] | None = None) -> tuple[Any, Any]:
        root = self.run_dir / name
        root.mkdir(parents=True, exist_ok=True)
        kwargs, _ = deep_trainer_kwargs(self.program_kwargs, root=str(root), epochs=epochs, batches=self.batches, cpu_map=self.cpu_map)
        recorder = recorder_class(self.package)(rank_dir, checkpoint_after)
        checkpoints = self.run_dir / (share_checkpoints_with or name)
        kwargs["callbacks"] = [*self._fresh_callbacks(checkpoints), recorder]
        if kwargs.get("logger") is not False:  # logging on, into the scratch folder whatever the program logs to
            kwargs["logger"] = self._lightning("loggers").CSVLogger(str(root), name="logs")
        if devices > 1:
            kwargs.update(devices=devices, strategy=strategy)
        return self.package.Trainer(**kwargs), recorder

    def _fit(self, trainer: Any, **extra: Any) -> None:
        trainer.fit(self.model, **self.data, **extra)

    def _lightning(self, submodule: str) -> ModuleType:
        return importlib.import_module(f"{self.package.__name__}.{submodule}")

    def _note(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)

    # --- (a) a short real fit ------------------------------------------------------------------------

    def fit(self) -> Outcome:
        from litgen._probe_deep_util import raised_while_saving, saving_reason

        started = time.monotonic()
        self._seed()
        interrupted = self.run_dir / "fit" / "interrupted.ckpt"
        trainer, recorder = self._trainer("fit", epochs=self.epochs, checkpoint_after=(self.epochs - 2, str(interrupted)))
        try:
            self._fit(trainer)
            checkpoint = self.run_dir / "fit" / "last.ckpt"
            trainer.save_checkpoint(str(checkpoint))
        except Exception as error:
            if raised_while_saving(error):
                raise DeepFailure(saving_reason(error, self.model, self.data.get("datamodule"))) from error
            raise DeepFailure(f"the {self.epochs}-epoch fit failed: {error_line(error)}") from error
        if trainer.global_step == 0:
            raise DeepFailure(f"no optimizer step ran in {self.epochs} epochs of up to {self.batches} batches")
        self.final_weights = copy.deepcopy(self.model.state_dict())
        self.fitted = FitRecord(
            global_step=int(trainer.global_step),
            epoch=int(trainer.current_epoch),
            losses=tuple(recorder.losses),
            metrics=tuple(sorted(trainer.callback_metrics)),
            checkpoint=checkpoint,
            interrupted=interrupted,
            interrupted_step=recorder.checkpoint_step if recorder.checkpoint_step is not None else -1,
            elapsed_s=time.monotonic() - started,
        )
        size = checkpoint.stat().st_size / 1024
        logged = f", logged {', '.join(self.fitted.metrics)}" if self.fitted.metrics else ""
        return "pass", f"{self.fitted.epoch} epochs, {self.fitted.global_step} steps{logged}; checkpoint saved ({size:.0f} KB)"

    # --- (b) load the checkpoint -----------------------------------------------------------------

    def load(self) -> Outcome:
        import torch

        fitted = self._need_fit()
        try:
            saved = torch.load(fitted.checkpoint)  # torch's own defaults: weights_only=True since torch 2.6
        except Exception as error:
            trusted = torch.load(fitted.checkpoint, weights_only=False)  # our own file, to name what was refused
            raise DeepFailure(weights_only_reason(error, trusted)) from error
        module_class = type(self.model)
        loaded, needed = self._load_from_checkpoint(module_class, fitted.checkpoint, saved)
        expected = saved.get("state_dict", {})
        actual = loaded.state_dict()
        differing = [key for key, value in expected.items() if key not in actual or not torch.equal(actual[key].cpu(), value.cpu())]
        if differing:
            raise DeepFailure(
                f"{module_class.__name__}.load_from_checkpoint does not give the saved weights: {', '.join(differing[:3])} differ"
            )
        extra = f" (given {', '.join(f'{name}=' for name in needed)} as the program built it: not a saved hyper-parameter)" if needed else ""
        return "pass", f"torch.load (weights_only=True) and {module_class.__name__}.load_from_checkpoint{extra} give the trained weights"

    def _load_from_checkpoint(self, module_class: type, path: Path, saved: dict[str, Any]) -> tuple[Any, list[str]]:
        """load_from_checkpoint as a user calls it; arguments save_hyperparameters left out are passed as the program built them."""
        saved_names = set((saved.get("hyper_parameters") or {}).keys())
        parameters = inspect.signature(module_class).parameters.values()  # __init__'s, without self
        needed = [
            parameter.name
            for parameter in parameters
            if parameter.name != "self"
            and parameter.default is inspect.Parameter.empty
            and parameter.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
            and parameter.name not in saved_names
        ]
        missing = [name for name in needed if not hasattr(self.model, name)]
        if missing:
            raise DeepFailure(
                f"{module_class.__name__}.load_from_checkpoint cannot rebuild the module: __init__ needs "
                f"{', '.join(missing)}, which save_hyperparameters() did not record"
            )
        given = {name: copy.deepcopy(getattr(self.model, name)) for name in needed}
        try:
            return module_class.load_from_checkpoint(str(path), map_location="cpu", **given), needed  # type: ignore[attr-defined]
        except Exception as error:
            text = str(error)
            if "Error(s) in loading state_dict" in text:  # the first line says only that; the next ones say what
                detail = " ".join(line.strip() for line in text.splitlines()[1:3] if line.strip())[:240]
                hint = "" if saved_names else "; its __init__ saves no hyper-parameters (call self.save_hyperparameters())"
                raise DeepFailure(
                    f"{module_class.__name__}.load_from_checkpoint builds a module the saved weights do not fit: {detail}{hint}"
                ) from error
            raise DeepFailure(f"{module_class.__name__}.load_from_checkpoint fails: {error_line(error)}") from error

    # --- (c) resume ---------------------------------------------------------------------------------

    def resume(self) -> Outcome:
        """Resume the checkpoint of the fit's next-to-last epoch, as a rerun after an interruption would."""
        import torch

        fitted = self._need_fit()
        if fitted.interrupted_step < 0 or not fitted.interrupted.exists():
            raise DeepFailure(f"the fit saved no checkpoint at the end of epoch {fitted.epoch - 2} to resume from")
        trainer, recorder = self._trainer("resume", epochs=self.epochs, share_checkpoints_with="fit")
        try:
            self._fit(trainer, ckpt_path=str(fitted.interrupted))
        except Exception as error:
            if "Weights only load failed" in str(error):  # Lightning resumes with torch's default weights_only
                trusted = torch.load(fitted.interrupted, weights_only=False)
                raise DeepFailure(f"resuming with fit(ckpt_path=...) fails: {weights_only_reason(error, trusted)}") from error
            raise DeepFailure(f"resuming from the checkpoint failed: {error_line(error)}") from error
        if recorder.start is None:
            raise DeepFailure("resuming from the checkpoint ran no training at all")
        step, epoch = recorder.start
        if (step, epoch) != (fitted.interrupted_step, fitted.epoch - 1):
            raise DeepFailure(
                f"resuming did not continue where the checkpoint stopped: epoch {epoch}, global step {step} "
                f"(the checkpoint was saved after epoch {fitted.epoch - 2} ended, at global step {fitted.interrupted_step})"
            )
        if (trainer.global_step, trainer.current_epoch) != (fitted.global_step, fitted.epoch):
            raise DeepFailure(
                f"the resumed fit did not end where the uninterrupted one did: epoch {trainer.current_epoch}, global step "
                f"{trainer.global_step} (the uninterrupted fit: epoch {fitted.epoch}, step {fitted.global_step})"
            )
        saved = torch.load(fitted.interrupted, weights_only=False).get("callbacks") or {}
        restored = check_callback_states(recorder.states, saved)
        states = f"; {restored} callback state{'s' if restored != 1 else ''} restored" if restored else ""
        return "pass", f"continued at epoch {epoch}, step {step} and ended at epoch {trainer.current_epoch}, step {trainer.global_step} as the uninterrupted fit did{states}"

    # --- (d) determinism -------------------------------------------------------------------------

    def _seed_request(self) -> SeedRequest | None:
        seed = os.environ.get("PL_GLOBAL_SEED")  # seed_everything (also LightningCLI's) records its seed here
        deterministic = self.program_kwargs.get("deterministic")
        if seed is None and not deterministic:
            return None
        how = f"seed_everything({seed})" if seed is not None else "deterministic=True (seeded with 0 here)"
        if seed is not None and deterministic:
            how += " and deterministic=True"
        try:
            number = int(seed) if seed is not None else 0
        except ValueError:
            number = 0
        return SeedRequest(number, os.environ.get("PL_SEED_WORKERS") == "1", how)

    def _seed(self) -> None:
        if self.seed is not None:
            self.model.load_state_dict(self.initial)
            self.model.__dict__.update(module_attributes_copy(self.initial_attributes))
            self.package.seed_everything(self.seed.seed, workers=self.seed.workers, verbose=False)

    def determinism(self) -> Outcome:
        if self.seed is None:
            return "skipped", "the program asks for no reproducibility (no seed_everything, no deterministic=True)"
        fitted = self._need_fit()
        import torch

        self._seed()
        trainer, recorder = self._trainer("repeat", epochs=self.epochs)
        try:
            self._fit(trainer)
        except Exception as error:
            raise DeepFailure(f"the second seeded fit failed: {error_line(error)}") from error
        first, second = list(fitted.losses), list(recorder.losses)
        hint = f" (unseeded: {'; '.join(self.unseeded[:3])})" if self.unseeded else ""
        cause = f"something draws random numbers that seed_everything does not seed{hint}"
        asked = f"not reproducible although the program asks for it ({self.seed.how})"
        index = first_difference(first, second)
        if index is not None:
            if index >= min(len(first), len(second)):
                raise DeepFailure(f"{asked}: the same seeded fit ran {len(first)} steps, then {len(second)}; {cause}")
            raise DeepFailure(
                f"{asked}: the loss at step {index} was {first[index]:.6g} in one fit and {second[index]:.6g} "
                f"in the same fit repeated; {cause}"
            )
        weights = self.model.state_dict()
        assert self.final_weights is not None
        if any(not torch.equal(weights[key], value) for key, value in self.final_weights.items() if key in weights):
            raise DeepFailure(f"{asked}: the same fit twice ends with different weights; {cause}")
        losses = f"the same {len(first)} losses and" if first else "the same"
        return "pass", f"the same seeded fit twice gave {losses} weights ({self.seed.how})"

    # --- (e) DDP ------------------------------------------------------------------------------------

    def ddp(self) -> Outcome:
        if self.devices < 2:
            return "skipped", "--devices 1 asks for no DDP run"
        spent = self.fitted.elapsed_s if self.fitted is not None else 10.0
        budget = min(self.deadline - time.monotonic() - 2.0, DDP_ALLOWANCE_S + DDP_FACTOR * spent)
        if budget < 5:
            raise DeepFailure("no time left for the DDP fit within --timeout")
        find_unused = "find_unused_parameters_true" in str(self.program_kwargs.get("strategy", ""))
        rank_dir, failure, expired = self._ddp_fit("ddp", budget, find_unused)
        if failure is not None and not find_unused and "find_unused_parameters" in str(failure):
            # Programs with manual optimization typically pick DDP's find_unused_parameters variant when asked for
            # 'ddp' (only given a DDP strategy by name can they): check with it, and say so.
            self._note("the DDP fit needed find_unused_parameters=True (some parameters get no gradient in a step); "
                       "the program's own DDP runs must use strategy='ddp_find_unused_parameters_true'")
            rank_dir, failure, expired = self._ddp_fit("ddp-find-unused", budget, True)
        ranks = rank_records(rank_dir)
        steps = ", ".join(f"rank {rank} ran {ranks[rank]['batches']}" for rank in sorted(ranks))
        planned = {rank: record.get("planned") for rank, record in ranks.items()}
        if len(ranks) == self.devices and None not in planned.values() and len(set(planned.values())) > 1:
            per_rank = ", ".join(f"rank {rank}: {planned[rank]}" for rank in sorted(planned))
            raise DeepFailure(
                f"the {self.devices} DDP processes get different numbers of training batches per epoch ({per_rank}), "
                "so they wait for each other forever; keep use_distributed_sampler=True or give every rank as many batches"
            )
        counts = {record["batches"] for record in ranks.values()}
        if failure is None and len(counts) > 1:
            raise DeepFailure(f"the {self.devices} DDP processes took different numbers of training steps ({steps})")
        label = f"the {self.devices}-process DDP fit (gloo, CPU)"
        if expired:
            raise DeepFailure(f"{label} did not finish within {budget:.0f} s: its processes hung ({steps or 'no rank started'})")
        if failure is not None:
            raise DeepFailure(f"{label} failed: {rank_error(failure)}")
        if len(ranks) != self.devices or not all(record["finished"] for record in ranks.values()):
            raise DeepFailure(f"{label} ended without every rank finishing its fit ({steps or 'no rank started'})")
        expected = set(self.fitted.metrics) if self.fitted is not None else set()
        missing = sorted(expected - set(ranks[0]["metrics"]))
        if missing:
            raise DeepFailure(
                f"rank 0 of {label} has no {', '.join(missing)}, which the 1-process fit logged "
                "(a metric logged only on some ranks?)"
            )
        metrics = f"; rank 0 logged {', '.join(ranks[0]['metrics'])}" if ranks[0]["metrics"] else ""
        return "pass", f"{self.devices} processes (gloo) x {ranks[0]['batches']} steps each{metrics}"

    def _ddp_fit(self, name: str, budget: float, find_unused: bool) -> tuple[Path, BaseException | None, bool]:
        """One DDP fit of forked CPU processes, killed after BUDGET s: its rank folder, failure, and whether it ran out of time."""
        rank_dir = self.run_dir / f"{name}-ranks"
        rank_dir.mkdir(parents=True, exist_ok=True)
        strategy = self._lightning("strategies").DDPStrategy(
            start_method="fork",  # the ranks inherit the program's objects (and the probe), no script re-run
            process_group_backend="gloo",
            timeout=timedelta(seconds=budget),  # a collective one rank never reaches fails instead of hanging
            find_unused_parameters=find_unused,
        )
        trainer, _ = self._trainer(name, epochs=self.epochs, devices=self.devices, strategy=strategy, rank_dir=str(rank_dir))
        stopped, expired = threading.Event(), threading.Event()
        watch = threading.Thread(
            target=watch_ranks, args=(rank_dir, self.devices, time.monotonic() + budget, stopped, expired), daemon=True
        )
        watch.start()
        failure: BaseException | None = None
        try:
            self._fit(trainer)
        except Exception as error:  # noqa: BLE001 - judged by the caller, with what each rank recorded
            failure = error
        finally:
            stopped.set()
            watch.join()
        return rank_dir, failure, expired.is_set()

    def _need_fit(self) -> FitRecord:
        if self.fitted is None:
            raise DeepSkip("needs the short fit, which failed")
        return self.fitted


def program_callbacks(program_kwargs: dict[str, Any]) -> list[Any]:
    """The program's own callbacks, copied before the fast_dev_run fit touches them (a fresh run's callbacks)."""
    callbacks = as_list(program_kwargs.get("callbacks"))
    try:
        return copy.deepcopy(callbacks)
    except Exception:  # noqa: BLE001 - uncopyable callbacks are reused as they are (noted in _fresh_callbacks)
        return callbacks
