"""The Trainer arguments 2.x removed or renamed: one table, used for code (`Trainer(...)`) and YAML configs.

Each entry turns one 1.x argument and its value into what 2.x needs: other arguments, a callback,
an argument of `fit(...)`, or nothing, with a note where the meaning shifts or a person must act.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from litgen.upgrade.flag_values import Callback, Code, NewValue, Outcome, Plain, Unknown, Value
from litgen.upgrade.strategy_plugins import (
    holds_strategy,
    plugins_outcome,
    same_family,
    strategy_object,
)


def _kept(reason: str) -> Outcome:
    return Outcome(note=reason, manual=True)


# a Trainer's own device count (`trainer.gpus`, `self.trainer.num_gpus`), not a command-line value
_DEVICE_COUNT = re.compile(r"(?:^|\.)trainer\.(?:gpus|num_gpus|num_devices|num_processes)$")


def _gpus(value: Value) -> Outcome:
    if isinstance(value, Unknown):
        if not value.pure or _DEVICE_COUNT.search(value.code):
            # `gpus=trainer.gpus`: 2.x's count of devices is 1 on the CPU, so no test on it says "CPU"
            return _kept(
                "`gpus=` was removed: set `accelerator=` and `devices=` from this expression"
            )
        text = value.code
        return Outcome(
            (
                ("accelerator", Code(f'"cuda" if {text} else "cpu"')),
                ("devices", Code(f'{text} if {text} else "auto"')),
            ),
            note="`gpus=` became `accelerator=`/`devices=`: no GPUs (0 or None) means the CPU",
        )
    if value is None or value in (0, "0", "") or value == []:
        return Outcome(
            (("accelerator", "cpu"),)
        )  # 1.x trained on the CPU; 2.x would take every GPU it sees
    return Outcome(
        (("accelerator", "cuda"), ("devices", value))
    )  # "gpu" would also take Apple's MPS


def _devices_of(accelerator: str) -> Callable[[Value], Outcome]:
    def rewrite(value: Value) -> Outcome:
        if isinstance(value, Unknown):
            return _kept(
                f'this argument was removed: pass `accelerator="{accelerator}", devices=` instead'
            )
        if value is None or value == 0:
            return Outcome()
        return Outcome((("accelerator", accelerator), ("devices", value)))

    return rewrite


# 1.x strategy spellings (as `accelerator=` or `distributed_backend=`) -> 2.x `strategy=`; None:
# removed in 2.x.
STRATEGIES: dict[str, str | None] = {
    "ddp": "ddp",
    "ddp_spawn": "ddp_spawn",
    "ddp_cpu": "ddp",
    "ddp_find_unused_parameters_false": "ddp_find_unused_parameters_false",
    "deepspeed": "deepspeed",
    "fsdp": "fsdp",
    "dp": None,
    "ddp2": None,
    "horovod": None,
    "ddp_sharded": None,
    "ddp_sharded_spawn": None,
    "ddp_fully_sharded": "fsdp",
}
STRATEGY_GONE = 'strategy {name!r} was removed in 2.0 (use "ddp" or "fsdp")'


def _strategy(value: Value) -> Outcome:
    if not isinstance(value, str):
        return _kept("`distributed_backend=` was removed: pass the strategy as `strategy=`")
    new = STRATEGIES.get(value, value)
    if new is None:
        return _kept(STRATEGY_GONE.format(name=value))
    arguments: tuple[tuple[str, NewValue], ...] = (("strategy", new),)
    if value == "ddp_cpu":
        arguments += (("accelerator", "cpu"),)
    return Outcome(arguments)


def accelerator_value(value: Value) -> Outcome | None:
    """`accelerator="ddp"` (1.x: a strategy) -> `strategy="ddp"`; None when it is a 2.x accelerator."""
    if isinstance(value, str) and value in STRATEGIES:
        return _strategy(value)
    return None


def _progress_bar(value: Value) -> Outcome:
    if value == 0:
        return Outcome((("enable_progress_bar", False),))
    if isinstance(value, int) and not isinstance(value, bool):
        if value == 1:
            return Outcome()
        return Outcome(
            callback=Callback(
                "lightning.pytorch.callbacks.TQDMProgressBar", (("refresh_rate", value),)
            )
        )
    return _kept(
        "`progress_bar_refresh_rate=` was removed: `enable_progress_bar=False`, or TQDMProgressBar(refresh_rate=N)"
    )


def _weights_summary(value: Value) -> Outcome:
    if value is None:
        return Outcome((("enable_model_summary", False),))
    if value == "top":
        return Outcome()
    if value == "full":
        return Outcome(
            callback=Callback("lightning.pytorch.callbacks.ModelSummary", (("max_depth", -1),))
        )
    return _kept(
        "`weights_summary=` was removed: `enable_model_summary=False` or ModelSummary(max_depth=N)"
    )


def _stochastic_weight_avg(value: Value) -> Outcome:
    if value is False:
        return Outcome()
    return _kept(
        "`stochastic_weight_avg=` was removed: add StochasticWeightAveraging(swa_lrs=...) to callbacks "
        "(2.x needs the SWA learning rate; 1.x used the optimizer's)"
    )


def _precision(value: Value) -> Outcome | None:
    if value in (16, "16"):
        return Outcome((("precision", "16-mixed"),))
    if value == "bf16":
        return Outcome((("precision", "bf16-mixed"),))
    return None  # 32, 64, "16-mixed", ...: 2.x takes them as they are


def _rename(new: str) -> Callable[[Value], Outcome]:
    def rewrite(value: Value) -> Outcome:
        return Outcome(((new, Code(value.code) if isinstance(value, Unknown) else value),))

    return rewrite


def _removed(note: str | None = None, *, manual_unless: Plain = None) -> Callable[[Value], Outcome]:
    """An argument 2.x dropped: it goes; `manual_unless` is the value for which nothing is lost."""

    def rewrite(value: Value) -> Outcome:
        if note is None or value == manual_unless:
            return Outcome()
        return Outcome(note=note, manual=True)

    return rewrite


def _reload_every_epoch(value: Value) -> Outcome:
    if value is True:
        return Outcome((("reload_dataloaders_every_n_epochs", 1),))
    if value is False:
        return Outcome()
    return _kept(
        "`reload_dataloaders_every_epoch=` was removed: `reload_dataloaders_every_n_epochs=1`"
    )


def _amp_backend(value: Value) -> Outcome:
    if value == "native":
        return Outcome()
    return _kept('apex AMP was removed in 2.0: use `precision="16-mixed"` (torch AMP)')


def _resume(value: Value) -> Outcome:
    return Outcome(to_fit="ckpt_path")


def _checkpoint_callback(value: Value) -> Outcome:
    if value is False:
        return Outcome((("enable_checkpointing", False),))
    if value is True:
        return Outcome()
    return _kept(
        "`checkpoint_callback=` was removed: a ModelCheckpoint goes in `callbacks=[...]`; "
        "True or False is `enable_checkpointing=`"
    )


def _accumulate(value: Value) -> Outcome | None:
    """A schedule `{epoch: batches}` is a callback in 2.x; a number stays an argument."""
    if isinstance(value, dict):
        return Outcome(
            callback=Callback(
                "lightning.pytorch.callbacks.GradientAccumulationScheduler",
                (("scheduling", value),),
            )
        )
    return None


FLAGS: dict[str, Callable[[Value], Outcome | None]] = {  # None: the value needs no change
    "gpus": _gpus,
    "tpu_cores": _devices_of("tpu"),
    "num_processes": _devices_of("cpu"),
    "ipus": _removed(
        "IPU support left Lightning in 2.0 (package lightning-graphcore)", manual_unless=None
    ),
    "auto_select_gpus": _removed(
        "`auto_select_gpus=` was removed: pass `devices=find_usable_cuda_devices(N)` "
        "(from lightning.pytorch.accelerators)",
        manual_unless=False,
    ),
    "distributed_backend": _strategy,
    "progress_bar_refresh_rate": _progress_bar,
    "checkpoint_callback": _checkpoint_callback,
    "weights_summary": _weights_summary,
    "stochastic_weight_avg": _stochastic_weight_avg,
    "resume_from_checkpoint": _resume,
    "precision": _precision,
    "amp_backend": _amp_backend,
    "amp_level": _removed(),
    "replace_sampler_ddp": _rename("use_distributed_sampler"),
    "max_nb_epochs": _rename("max_epochs"),
    "min_nb_epochs": _rename("min_epochs"),
    "track_grad_norm": _removed(
        "`track_grad_norm=` was removed: log `lightning.pytorch.utilities.grad_norm(self, norm_type=N)` "
        "in `on_before_optimizer_step`",
        manual_unless=-1,
    ),
    "terminate_on_nan": _removed(
        "`terminate_on_nan=` was removed: 2.x does not stop on NaN losses by itself (`detect_anomaly=True` "
        "finds where they come from)",
        manual_unless=False,
    ),
    "flush_logs_every_n_steps": _removed(
        "`flush_logs_every_n_steps=` moved to the logger (e.g. CSVLogger)", manual_unless=100
    ),
    "log_gpu_memory": _removed(
        "`log_gpu_memory=` was removed: add DeviceStatsMonitor() to callbacks"
    ),
    "prepare_data_per_node": _removed(
        "`prepare_data_per_node=` moved to the module: set `self.prepare_data_per_node` in its __init__",
        manual_unless=True,
    ),
    "reload_dataloaders_every_epoch": _reload_every_epoch,
    "multiple_trainloader_mode": _removed(
        "`multiple_trainloader_mode=` was removed: wrap the loaders in CombinedLoader(loaders, mode=...)",
        manual_unless="max_size_cycle",
    ),
    "move_metrics_to_cpu": _removed(manual_unless=False),
    "process_position": _removed(
        "`process_position=` moved to TQDMProgressBar(process_position=N)", manual_unless=0
    ),
    "truncated_bptt_steps": _removed(
        "truncated back-propagation through time was removed in 2.0: split the sequence in training_step "
        "(manual optimization)"
    ),
    "weights_save_path": _removed(
        "`weights_save_path=` was removed: pass ModelCheckpoint(dirpath=...)"
    ),
    "enable_pl_optimizer": _removed(),
    "accumulate_grad_batches": _accumulate,
    "auto_lr_find": _removed(),  # acts only through trainer.tune(), which the fit-call rule rewrites
    "auto_scale_batch_size": _removed(),
    # 1.x defaults a full config dump holds, which 2.x refuses (`strategy=None` is "invalid",
    # `max_steps=None` fails a comparison); other values pass through.
    "strategy": lambda value: Outcome() if value is None else None,
    "max_steps": lambda value: Outcome((("max_steps", -1),)) if value is None else None,
}
TUNING_FLAGS = ("auto_lr_find", "auto_scale_batch_size")
KEPT_FLAGS = frozenset(
    {"precision", "accumulate_grad_batches", "strategy", "max_steps"}
)  # 2.x still takes these (some values change)
# Device-count flags whose value said "none of these": in 1.x they chose the CPU only when no
# `accelerator=` was given (1.x's default accelerator was the CPU, 2.x's "auto" takes a GPU).
_DEVICE_FLAGS = ("gpus", "num_processes", "tpu_cores")


# Flags whose 1.x default was None, as a config dump lists them: they go without a note.
_NONE_IS_DEFAULT = frozenset(
    {
        "checkpoint_callback",
        "distributed_backend",
        "progress_bar_refresh_rate",
        "resume_from_checkpoint",
    }
)


def flag_outcome(name: str, value: Value, given: dict[str, Value]) -> Outcome | None:
    """What Trainer argument NAME=VALUE becomes, beside the other arguments GIVEN; None: unchanged.

    The one entry for code and YAML, so both read a call's flags the same way.
    """
    strategy = strategy_object(given.get("plugins"))
    if name == "plugins":
        return plugins_outcome(value, strategy)
    if (
        name in ("accelerator", "distributed_backend")
        and strategy is not None
        and isinstance(value, str)
        and same_family(strategy, value)
    ):
        return Outcome()  # `plugins=DDPPlugin(...)` already says "ddp", with its options
    if name == "accelerator":
        return accelerator_value(value)
    if value is None and name in _NONE_IS_DEFAULT:
        return Outcome()
    accelerator = given.get("accelerator")
    if (
        name == "num_processes"
        and value == 1
        and any(
            given.get(other) not in (None, 0, "0", "", [])
            for other in ("gpus", "tpu_cores", "ipus")
        )
    ):
        return Outcome()  # 1.x's default: beside GPUs, TPUs or IPUs it chose nothing
    if name in _DEVICE_FLAGS and accelerator is not None and accelerator_value(accelerator) is None:
        # An explicit 2.x accelerator decides the device; the 1.x count only says how many.
        if value is None or value == 0 or (name == "num_processes" and value == 1):
            return Outcome()
        if name == "gpus" and not isinstance(value, Unknown) and "devices" not in given:
            return Outcome((("devices", value),))
    rewrite = FLAGS.get(name)
    outcome = rewrite(value) if rewrite is not None else None
    if (
        outcome is not None
        and name in ("gpus", "num_processes")
        and _several(value)
        and not any(key in given for key in ("strategy", "distributed_backend"))
        and not holds_strategy(given.get("plugins"))
        and accelerator_value(accelerator) is None
    ):
        return replace(
            outcome, arguments=(*outcome.arguments, ("strategy", "ddp_spawn")), note=SPAWN_NOTE
        )
    return outcome


SPAWN_NOTE = (
    "1.x ran several devices with ddp_spawn when no strategy was given; 2.x's default, ddp, runs the "
    "whole script once per device: keep ddp_spawn for the same behaviour, or drop it for speed"
)


def _several(value: Value) -> bool:
    """Whether a 1.x device count asks for more than one device (`2`, `-1`, `"0,1"`, `[0, 1]`)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value > 1 or value == -1
    if isinstance(value, str):
        ids = [part for part in value.split(",") if part.strip()]
        return (
            len(ids) > 1
            or value.strip() in ("-1", "auto")
            or (value.strip().isdigit() and int(value) > 1)
        )
    return isinstance(value, list) and len(value) > 1
