"""The sub-checks of `litgen check --deep`, run inside the probe on the module and data the program's fit got."""

# Each public method is one sub-check: it returns (status, one-line reason) or raises DeepFailure.
# They run in order (fit, load, resume, determinism, ddp) on fresh Trainers built from the program's
# own Trainer arguments (litgen/_probe_deep_util.deep_trainer_kwargs), each with its own folder
# under the scratch run folder. torch and Lightning are imported inside the methods: this module is
# imported by the probe plugin, which must stay importable without them.

from __future__ import annotations

import copy
import importlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from litgen._probe_deep_record import recorder_class
from litgen._probe_deep_util import (
    DeepFailure,
    DeepSkip,
    FitRecord,
    Outcome,
    check_callback_states,
    deep_trainer_kwargs,
    error_line,
    first_difference,
    load_as_a_user,
    module_attributes,
    module_attributes_copy,
    weights_only_reason,
)
from litgen._probe_trainer import as_list


@dataclass(frozen=True)
class SeedRequest:
    """How the program asked for reproducible runs (seed_everything, deterministic=True)."""

    seed: int
    workers: bool
    how: str


class DeepSteps:
    """The sub-checks for one program: the module, data and Trainer arguments of its first fit."""

    def __init__(
        self,
        package: ModuleType,
        program_kwargs: dict[str, Any],
        model: Any,
        data: dict[str, Any],
        callbacks: list[Any],
        options: dict[str, Any],
    ) -> None:
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
        # both seeded fits start from these weights
        self.initial = copy.deepcopy(model.state_dict())
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
            self.note(
                "the program's callbacks cannot be copied, so every deep fit reuses the same instances"
            )
        checkpoint_class = self.lightning("callbacks").ModelCheckpoint
        for index, callback in enumerate(callbacks):
            if isinstance(callback, checkpoint_class) and callback.dirpath is not None:
                # never into the user's folders
                callback.dirpath = str(checkpoint_dir / f"checkpoints-{index}")
        return callbacks

    def trainer(
        self,
        name: str,
        *,
        epochs: int,
        share_checkpoints_with: str | None = None,
        devices: int = 1,
        strategy: Any = "auto",
        rank_dir: str | None = None,
        checkpoint_after: tuple[int, str] | None = None,
    ) -> tuple[Any, Any]:
        root = self.run_dir / name
        root.mkdir(parents=True, exist_ok=True)
        kwargs, _ = deep_trainer_kwargs(
            self.program_kwargs,
            root=str(root),
            epochs=epochs,
            batches=self.batches,
            cpu_map=self.cpu_map,
        )
        recorder = recorder_class(self.package)(rank_dir, checkpoint_after)
        checkpoints = self.run_dir / (share_checkpoints_with or name)
        kwargs["callbacks"] = [*self._fresh_callbacks(checkpoints), recorder]
        # logging on, into the scratch folder whatever the program logs to
        if kwargs.get("logger") is not False:
            kwargs["logger"] = self.lightning("loggers").CSVLogger(str(root), name="logs")
        if devices > 1:
            kwargs.update(devices=devices, strategy=strategy)
        return self.package.Trainer(**kwargs), recorder

    def run_fit(self, trainer: Any, **extra: Any) -> None:
        trainer.fit(self.model, **self.data, **extra)

    def lightning(self, submodule: str) -> ModuleType:
        return importlib.import_module(f"{self.package.__name__}.{submodule}")

    def note(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)

    # --- (a) a short real fit ---------------------------------------------------------------------

    def fit(self) -> Outcome:
        from litgen._probe_deep_util import raised_while_saving, saving_reason

        started = time.monotonic()
        self._seed()
        interrupted = self.run_dir / "fit" / "interrupted.ckpt"
        trainer, recorder = self.trainer(
            "fit", epochs=self.epochs, checkpoint_after=(self.epochs - 2, str(interrupted))
        )
        try:
            self.run_fit(trainer)
            checkpoint = self.run_dir / "fit" / "last.ckpt"
            trainer.save_checkpoint(str(checkpoint))
        except Exception as error:
            if raised_while_saving(error):
                raise DeepFailure(
                    saving_reason(error, self.model, self.data.get("datamodule"))
                ) from error
            raise DeepFailure(f"the {self.epochs}-epoch fit failed: {error_line(error)}") from error
        if trainer.global_step == 0:
            raise DeepFailure(
                f"no optimizer step ran in {self.epochs} epochs of up to {self.batches} batches"
            )
        self.final_weights = copy.deepcopy(self.model.state_dict())
        self.fitted = FitRecord(
            global_step=int(trainer.global_step),
            epoch=int(trainer.current_epoch),
            losses=tuple(recorder.losses),
            metrics=tuple(sorted(trainer.callback_metrics)),
            checkpoint=checkpoint,
            interrupted=interrupted,
            interrupted_step=recorder.checkpoint_step
            if recorder.checkpoint_step is not None
            else -1,
            elapsed_s=time.monotonic() - started,
        )
        size = checkpoint.stat().st_size / 1024
        logged = f", logged {', '.join(self.fitted.metrics)}" if self.fitted.metrics else ""
        return (
            "pass",
            f"{self.fitted.epoch} epochs, {self.fitted.global_step} steps{logged}; checkpoint saved ({size:.0f} KB)",
        )

    # --- (b) load the checkpoint -----------------------------------------------------------------

    def load(self) -> Outcome:
        import torch

        fitted = self._need_fit()
        try:
            # torch's own defaults: weights_only=True since torch 2.6
            saved = torch.load(fitted.checkpoint)
        except Exception as error:
            # our own file, to name what was refused
            trusted = torch.load(fitted.checkpoint, weights_only=False)
            raise DeepFailure(weights_only_reason(error, trusted)) from error
        module_class = type(self.model)
        loaded, needed = load_as_a_user(self.model, fitted.checkpoint, saved)
        expected = saved.get("state_dict", {})
        actual = loaded.state_dict()
        differing = [
            key
            for key, value in expected.items()
            if key not in actual or not torch.equal(actual[key].cpu(), value.cpu())
        ]
        if differing:
            raise DeepFailure(
                f"{module_class.__name__}.load_from_checkpoint does not give the saved "
                f"weights: {', '.join(differing[:3])} differ"
            )
        extra = (
            f" (given {', '.join(f'{name}=' for name in needed)} as the program built it: not a saved hyper-parameter)"
            if needed
            else ""
        )
        return (
            "pass",
            "torch.load (weights_only=True) and "
            f"{module_class.__name__}.load_from_checkpoint{extra} give the trained weights",
        )

    # --- (c) resume -------------------------------------------------------------------------------

    def resume(self) -> Outcome:
        """Resume the checkpoint of the fit's next-to-last epoch, as a rerun after an interruption would."""
        import torch

        fitted = self._need_fit()
        if fitted.interrupted_step < 0 or not fitted.interrupted.exists():
            raise DeepFailure(
                f"the fit saved no checkpoint at the end of epoch {fitted.epoch - 2} to resume from"
            )
        trainer, recorder = self.trainer("resume", epochs=self.epochs, share_checkpoints_with="fit")
        try:
            self.run_fit(trainer, ckpt_path=str(fitted.interrupted))
        except Exception as error:
            # Lightning resumes with torch's default weights_only
            if "Weights only load failed" in str(error):
                trusted = torch.load(fitted.interrupted, weights_only=False)
                raise DeepFailure(
                    f"resuming with fit(ckpt_path=...) fails: {weights_only_reason(error, trusted)}"
                ) from error
            raise DeepFailure(
                f"resuming from the checkpoint failed: {error_line(error)}"
            ) from error
        if recorder.start is None:
            raise DeepFailure("resuming from the checkpoint ran no training at all")
        step, epoch = recorder.start
        if (step, epoch) != (fitted.interrupted_step, fitted.epoch - 1):
            raise DeepFailure(
                f"resuming did not continue where the checkpoint stopped: epoch {epoch}, global step {step} "
                f"(the checkpoint was saved after epoch {fitted.epoch - 2} ended, at "
                f"global step {fitted.interrupted_step})"
            )
        if (trainer.global_step, trainer.current_epoch) != (fitted.global_step, fitted.epoch):
            raise DeepFailure(
                "the resumed fit did not end where the uninterrupted one did: epoch "
                f"{trainer.current_epoch}, global step "
                f"{trainer.global_step} (the uninterrupted fit: epoch {fitted.epoch}, step {fitted.global_step})"
            )
        saved = torch.load(fitted.interrupted, weights_only=False).get("callbacks") or {}
        restored = check_callback_states(recorder.states, saved)
        states = (
            f"; {restored} callback state{'s' if restored != 1 else ''} restored"
            if restored
            else ""
        )
        return (
            "pass",
            f"continued at epoch {epoch}, step {step} and ended at epoch "
            f"{trainer.current_epoch}, step {trainer.global_step} as the uninterrupted fit "
            f"did{states}",
        )

    # --- (d) determinism -------------------------------------------------------------------------

    def _seed_request(self) -> SeedRequest | None:
        # seed_everything (also LightningCLI's) records its seed here
        seed = os.environ.get("PL_GLOBAL_SEED")
        deterministic = self.program_kwargs.get("deterministic")
        if seed is None and not deterministic:
            return None
        how = (
            f"seed_everything({seed})"
            if seed is not None
            else "deterministic=True (seeded with 0 here)"
        )
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
            return (
                "skipped",
                "the program asks for no reproducibility (no seed_everything, no deterministic=True)",
            )
        fitted = self._need_fit()
        import torch

        self._seed()
        trainer, recorder = self.trainer("repeat", epochs=self.epochs)
        try:
            self.run_fit(trainer)
        except Exception as error:
            raise DeepFailure(f"the second seeded fit failed: {error_line(error)}") from error
        first, second = list(fitted.losses), list(recorder.losses)
        hint = f" (unseeded: {'; '.join(self.unseeded[:3])})" if self.unseeded else ""
        cause = f"something draws random numbers that seed_everything does not seed{hint}"
        asked = f"not reproducible although the program asks for it ({self.seed.how})"
        index = first_difference(first, second)
        if index is not None:
            if index >= min(len(first), len(second)):
                raise DeepFailure(
                    f"{asked}: the same seeded fit ran {len(first)} steps, then {len(second)}; {cause}"
                )
            raise DeepFailure(
                f"{asked}: the loss at step {index} was {first[index]:.6g} in one fit and {second[index]:.6g} "
                f"in the same fit repeated; {cause}"
            )
        weights = self.model.state_dict()
        assert self.final_weights is not None
        if any(
            not torch.equal(weights[key], value)
            for key, value in self.final_weights.items()
            if key in weights
        ):
            raise DeepFailure(f"{asked}: the same fit twice ends with different weights; {cause}")
        losses = f"the same {len(first)} losses and" if first else "the same"
        return "pass", f"the same seeded fit twice gave {losses} weights ({self.seed.how})"

    # --- (e) DDP: litgen/_probe_deep_ddp.py ------------------------------------------------------

    def ddp(self) -> Outcome:
        from litgen._probe_deep_ddp import ddp_check

        return ddp_check(self)

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
