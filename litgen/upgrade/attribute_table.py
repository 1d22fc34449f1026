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


def _gone(owner: str, advice: dict[str, str | None]) -> dict[str, Attribute]:
    """Attributes 2.x removed with nothing to rename to: a needs-you note with the advice."""
    return {
        name: Attribute(
            note=f"`{owner}.{name}` was removed" + (f": {hint}" if hint else ""), manual=True
        )
        for name, hint in advice.items()
    }


_STRATEGY_TEST = "test `{owner}.strategy` (e.g. `isinstance(..., DDPStrategy)`)"
_PRECISION_TEST = 'test `{owner}.precision` ("16-mixed", "bf16-mixed")'
_PREDICTION_WRITER = "use a `BasePredictionWriter` callback"

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
    # of LRSchedulerConfig objects: the attributes rule turns `[i]["key"]` into `[i].key`
    "lr_schedulers": Attribute("lr_scheduler_configs"),
    "resume_from_checkpoint": Attribute(
        "ckpt_path", "`ckpt_path` is the checkpoint given to fit/validate/test"
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
    **_gone(
        "trainer",
        {
            "use_amp": _PRECISION_TEST.format(owner="trainer"),
            "amp_backend": "2.x has only native AMP",
            "weights_save_path": "use the ModelCheckpoint's `dirpath`",
            "progress_bar_dict": "`trainer.progress_bar_callback.get_metrics(trainer, model)`",
            "lightning_optimizers": "use `self.optimizers()`",
            "optimizer_frequencies": "optimizer frequencies went with it",
            "disable_validation": "test `trainer.limit_val_batches == 0`",
            "verbose_evaluate": "pass `verbose=` to validate/test",
            "train_loop": "2.x's loops are `trainer.fit_loop` and friends",
            **dict.fromkeys(
                ("use_ddp", "use_ddp2", "use_dp", "distributed_backend"),
                _STRATEGY_TEST.format(owner="trainer"),
            ),
            "on_gpu": 'test `trainer.strategy.root_device.type == "cuda"`',
            "terminate_on_nan": None,
            "truncated_bptt_steps": "truncated backprop went with it",
            "should_rank_save_checkpoint": "test `trainer.is_global_zero`",
            "batch_idx": "hooks receive `batch_idx`",
            "call_hook": "call the hook on the module or callback",
        },
    ),
}
MODULE_ATTRIBUTES: dict[str, Attribute] = {
    "precision": Attribute("trainer.precision"),  # the module's copy of the Trainer's, gone in 2.x
    **_gone(
        "self",
        {
            **dict.fromkeys(
                ("use_ddp", "use_dp", "use_ddp2", "use_single_gpu", "on_tpu"),
                _STRATEGY_TEST.format(owner="self.trainer"),
            ),
            "use_amp": _PRECISION_TEST.format(owner="self.trainer"),
            "model_size": "`ModelSummary(self).model_size` estimates it (MB)",
            "write_prediction": _PREDICTION_WRITER,
            "write_prediction_dict": _PREDICTION_WRITER,
            "truncated_bptt_steps": "split the sequence in `training_step` with manual optimization",
            "loaded_optimizer_states_dict": None,
        },
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
