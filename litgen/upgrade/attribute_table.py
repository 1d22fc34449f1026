"""The Trainer and LightningModule attributes 2.x renamed or removed: one table the attributes rule reads."""

from __future__ import annotations

import re
from dataclasses import dataclass

# `x.trainer` is a Trainer for these receivers; `cfg.trainer.gpus` (a Hydra or argparse config) is a
# flag, not one.
TRAINER_OWNERS = frozenset(
    {"self", "pl_module", "model", "module", "lightning_module", "lit_module", "lit_model"}
)

DEVICES_NOTE = "1.x counted GPUs only (0 on CPU); `num_devices` counts the devices of any accelerator (1 on CPU)"


@dataclass(frozen=True)
class Attribute:
    """What a 1.x attribute becomes: a dotted path under the same receiver, and/or a note (manual: no rewrite)."""

    new: str | None = None
    note: str | None = None
    manual: bool = False


TRAINER_ATTRIBUTES: dict[str, Attribute] = {
    "training_type_plugin": Attribute("strategy"),
    "running_sanity_check": Attribute("sanity_checking"),
    "tested_ckpt_path": Attribute("ckpt_path"),
    "validated_ckpt_path": Attribute("ckpt_path"),
    "predicted_ckpt_path": Attribute("ckpt_path"),
    "num_gpus": Attribute("num_devices", DEVICES_NOTE),
    "gpus": Attribute("num_devices", DEVICES_NOTE),
    "num_processes": Attribute("num_devices"),
    "tpu_cores": Attribute("num_devices"),
    "ipus": Attribute("num_devices"),
    "root_gpu": Attribute("strategy.root_device.index"),  # None off the GPU, as 1.x's was
    "data_parallel_device_ids": Attribute(
        "device_ids", "1.x gave None on CPU; `device_ids` is [0] there"
    ),
    "lr_schedulers": Attribute(
        "lr_scheduler_configs"
    ),  # of LRSchedulerConfig objects: see _scheduler_keys
    "resume_from_checkpoint": Attribute(
        "ckpt_path", "`ckpt_path` is the checkpoint given to fit/validate/test"
    ),
    "use_amp": Attribute(
        note='`trainer.use_amp` was removed: test `trainer.precision` ("16-mixed", "bf16-mixed")',
        manual=True,
    ),
    "amp_backend": Attribute(
        note="`trainer.amp_backend` was removed: 2.x has only native AMP", manual=True
    ),
    "weights_save_path": Attribute(
        note="`trainer.weights_save_path` was removed: use the ModelCheckpoint's `dirpath`",
        manual=True,
    ),
    "progress_bar_dict": Attribute(
        note="`trainer.progress_bar_dict` was removed: `trainer.progress_bar_callback.get_metrics(trainer, model)`",
        manual=True,
    ),
    "lightning_optimizers": Attribute(
        note="`trainer.lightning_optimizers` was removed: use `self.optimizers()`", manual=True
    ),
    "optimizer_frequencies": Attribute(
        note="`trainer.optimizer_frequencies` was removed with optimizer frequencies", manual=True
    ),
    "disable_validation": Attribute(
        note="`trainer.disable_validation` was removed: test `trainer.limit_val_batches == 0`",
        manual=True,
    ),
    "verbose_evaluate": Attribute(
        note="`trainer.verbose_evaluate` was removed: pass `verbose=` to validate/test", manual=True
    ),
    **{
        name: Attribute(
            note=f"`trainer.{name}` was removed: test `trainer.strategy` (e.g. `isinstance(..., DDPStrategy)`)",
            manual=True,
        )
        for name in ("use_ddp", "use_ddp2", "use_dp", "distributed_backend")
    },
    "on_gpu": Attribute(
        note='`trainer.on_gpu` was removed: test `trainer.strategy.root_device.type == "cuda"`',
        manual=True,
    ),
    "terminate_on_nan": Attribute(note="`trainer.terminate_on_nan` was removed", manual=True),
    "truncated_bptt_steps": Attribute(
        note="`trainer.truncated_bptt_steps` was removed with truncated backprop", manual=True
    ),
    "should_rank_save_checkpoint": Attribute(
        note="`trainer.should_rank_save_checkpoint` was removed: test `trainer.is_global_zero`",
        manual=True,
    ),
    "batch_idx": Attribute(
        note="`trainer.batch_idx` was removed: hooks receive `batch_idx`", manual=True
    ),
    "call_hook": Attribute(
        note="`trainer.call_hook` was removed: call the hook on the module or callback", manual=True
    ),
    **{
        name: Attribute(f"_{name}", f"`trainer.{name}` is private in 2.x (`trainer._{name}`)")
        for name in (
            "accelerator_connector",
            "checkpoint_connector",
            "data_connector",
            "callback_connector",
            "logger_connector",
        )
    },
    "train_loop": Attribute(
        note="`trainer.train_loop` was removed: 2.x's loops are `trainer.fit_loop` and friends",
        manual=True,
    ),
}
MODULE_ATTRIBUTES: dict[str, Attribute] = {
    **{
        name: Attribute(
            note=f"`self.{name}` was removed: test `self.trainer.strategy` (e.g. `isinstance(..., DDPStrategy)`)",
            manual=True,
        )
        for name in ("use_ddp", "use_dp", "use_ddp2", "use_single_gpu", "on_tpu")
    },
    "use_amp": Attribute(
        note='`self.use_amp` was removed: test `self.trainer.precision` ("16-mixed", "bf16-mixed")',
        manual=True,
    ),
    "model_size": Attribute(
        note="`self.model_size` was removed: `ModelSummary(self).model_size` estimates it (MB)",
        manual=True,
    ),
    "write_prediction": Attribute(
        note="`self.write_prediction` was removed: use a `BasePredictionWriter` callback",
        manual=True,
    ),
    "write_prediction_dict": Attribute(
        note="`self.write_prediction_dict` was removed: use a `BasePredictionWriter` callback",
        manual=True,
    ),
    "truncated_bptt_steps": Attribute(
        note="2.x removed truncated backprop from automatic optimization: split the sequence in `training_step` "
        "with manual optimization",
        manual=True,
    ),
    "precision": Attribute("trainer.precision"),  # the module's copy of the Trainer's, gone in 2.x
    "loaded_optimizer_states_dict": Attribute(
        note="`self.loaded_optimizer_states_dict` was removed", manual=True
    ),
}
# 1.x's `trainer.precision` was 16, 32, "bf16" (a number or its string); 2.x names the mode too.
PRECISIONS: dict[object, str] = {
    16: "16-mixed",
    "16": "16-mixed",
    "bf16": "bf16-mixed",
    32: "32-true",
    "32": "32-true",
    64: "64-true",
    "64": "64-true",
}

# A config object's `trainer` section read by key (`cfg["trainer"]["gpus"]`, `cfg.trainer.gpus`,
# `cfg["trainer"].get("gpus")`): the YAML that feeds it must keep those keys.
_CONFIG_READS = (
    re.compile(r"""\[\s*["']trainer["']\s*\]\s*(?:\[\s*|\.get\(\s*)["'](\w+)["']"""),
    re.compile(r"(\w+)\.trainer\.(\w+)"),
)


def config_keys_read(source: str) -> set[str]:
    """The keys of a config's `trainer` section SOURCE reads by name (not a real Trainer's attributes)."""
    keys = set(_CONFIG_READS[0].findall(source))
    keys |= {key for owner, key in _CONFIG_READS[1].findall(source) if owner not in TRAINER_OWNERS}
    return keys
