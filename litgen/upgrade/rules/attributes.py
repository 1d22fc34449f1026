"""Trainer and LightningModule attributes 2.x renamed or removed (`trainer.num_gpus`, `self.use_amp`, ...)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import libcst as cst
import libcst.matchers as m

from litgen.convert.names import code
from litgen.cst_walk import find
from litgen.review import review_lines
from litgen.upgrade.added_imports import add_imports
from litgen.upgrade.classes import lightning_classes
from litgen.upgrade.rule import PL_IMPORT, Example, Rule, RuleContext, RuleTransformer

TRAINER = "lightning.pytorch.Trainer"
# `x.trainer` is a Trainer for these receivers; `cfg.trainer.gpus` (a Hydra or argparse config) is a
# flag, not one.
TRAINER_OWNERS = frozenset(
    {"self", "pl_module", "model", "module", "lightning_module", "lit_module", "lit_model"}
)
_DEVICES_NOTE = "1.x counted GPUs only (0 on CPU); `num_devices` counts the devices of any accelerator (1 on CPU)"


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
    "num_gpus": Attribute("num_devices", _DEVICES_NOTE),
    "gpus": Attribute("num_devices", _DEVICES_NOTE),
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
    "loaded_optimizer_states_dict": Attribute(
        note="`self.loaded_optimizer_states_dict` was removed", manual=True
    ),
}
SUMMARIZE_NOTE = "`summarize(self)` returns the summary as 1.x's `self.summarize()` did, but does not log it: print it"


class _Attributes(RuleTransformer):
    rule = "attributes"

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        self.modules = {
            name
            for name, kind in lightning_classes(context.module, context).items()
            if kind == "module"
        }
        given: set[str] = set()
        other: set[str] = set()
        for assign in find(context.module, cst.Assign):
            is_trainer = (
                isinstance(assign.value, cst.Call) and context.qualify(assign.value.func) == TRAINER
            )
            (given if is_trainer else other).update(
                code(target.target) for target in assign.targets
            )
        self.trainers = given
        self.not_trainers = (
            other - given
        )  # `trainer = cfg.trainer` makes `trainer.gpus` a config value
        self.imports: set[tuple[str, str]] = set()
        self._classes: list[str] = []

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._classes.append(node.name.value)

    def leave_ClassDef(
        self, original_node: cst.ClassDef, updated_node: cst.ClassDef
    ) -> cst.ClassDef:
        self._classes.pop()
        return updated_node

    def _is_trainer(self, node: cst.BaseExpression) -> bool:
        """`self.trainer`, `pl_module.trainer`, a `trainer` (hook parameter or variable), a name given a Trainer."""
        if isinstance(node, cst.Attribute):
            return (
                node.attr.value == "trainer"
                and isinstance(node.value, cst.Name)
                and node.value.value in TRAINER_OWNERS
            )
        if not isinstance(node, cst.Name):
            return False
        return node.value in self.trainers or (
            node.value == "trainer" and "trainer" not in self.not_trainers
        )

    def _is_module_self(self, node: cst.BaseExpression) -> bool:
        return (
            m.matches(node, m.Name("self"))
            and bool(self._classes)
            and self._classes[-1] in self.modules
        )

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.BaseExpression:
        name = original_node.attr.value
        if name == "slurm_job_id" and self._is_trainer(original_node.value):
            self.imports.add(("lightning.pytorch.plugins.environments", "SLURMEnvironment"))
            self.change(
                "trainer.slurm_job_id -> SLURMEnvironment.job_id()"
            )  # the same int, or None outside SLURM
            return cst.parse_expression("SLURMEnvironment.job_id()")
        if name in TRAINER_ATTRIBUTES and self._is_trainer(original_node.value):
            return self._apply(TRAINER_ATTRIBUTES[name], f"trainer.{name}", updated_node)
        if name in MODULE_ATTRIBUTES and self._is_module_self(original_node.value):
            return self._apply(MODULE_ATTRIBUTES[name], f"self.{name}", updated_node)
        return updated_node

    def _apply(self, change: Attribute, old: str, node: cst.Attribute) -> cst.BaseExpression:
        if change.note is not None:
            self.note(change.note, "manual" if change.manual else "review")
        if change.new is None:
            return node
        self.change(f"{old} -> {old.partition('.')[0]}.{change.new}")
        return cst.parse_expression(f"{code(node.value)}.{change.new}")

    def leave_Subscript(
        self, original_node: cst.Subscript, updated_node: cst.Subscript
    ) -> cst.BaseExpression:
        """`trainer.lr_schedulers[0]["scheduler"]`: 2.x's configs are dataclasses, read by attribute."""
        inner = original_node.value
        key = original_node.slice[0].slice if len(original_node.slice) == 1 else None
        if (
            isinstance(inner, cst.Subscript)
            and isinstance(inner.value, cst.Attribute)
            and inner.value.attr.value == "lr_schedulers"
            and self._is_trainer(inner.value.value)
            and isinstance(key, cst.Index)
            and isinstance(key.value, cst.SimpleString)
        ):
            field = key.value.evaluated_value
            if isinstance(field, str) and field.isidentifier():
                return cst.Attribute(value=updated_node.value, attr=cst.Name(field))
        return updated_node

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        func = original_node.func
        if m.matches(
            func, m.Attribute(value=m.Name("self"), attr=m.Name("summarize"))
        ) and self._is_module_self(cst.Name("self")):
            if updated_node.args:
                self.note(
                    "`self.summarize(...)` was removed: `summarize(self, max_depth=N)` (1.x's mode='full' is -1)",
                    "manual",
                )
                return updated_node
            self.imports.add(("lightning.pytorch.utilities.model_summary", "summarize"))
            self.change("self.summarize() -> summarize(self)")
            self.note(SUMMARIZE_NOTE)
            return cst.parse_expression("summarize(self)")
        return updated_node


HEAD = PL_IMPORT


class AttributesRule(Rule):
    name = "attributes"
    summary = "Trainer and LightningModule attributes 2.x renamed or removed"
    examples: ClassVar[Sequence[Example]] = (
        Example(
            "class C(pl.Callback):\n    def on_train_start(self, trainer, pl_module):\n"
            "        if trainer.running_sanity_check or trainer.root_gpu is None:\n            return\n",
            "class C(pl.Callback):\n    def on_train_start(self, trainer, pl_module):\n"
            "        if trainer.sanity_checking or trainer.strategy.root_device.index is None:\n            return\n",
        ),
        Example(
            HEAD + "class M(pl.LightningModule):\n    def on_fit_start(self):\n"
            '        scheduler = self.trainer.lr_schedulers[0]["scheduler"]\n        self.plugin = self.trainer.training_type_plugin\n',
            HEAD + "class M(pl.LightningModule):\n    def on_fit_start(self):\n"
            "        scheduler = self.trainer.lr_scheduler_configs[0].scheduler\n        self.plugin = self.trainer.strategy\n",
        ),
        Example(
            HEAD
            + "class M(pl.LightningModule):\n    def on_fit_start(self):\n        print(self.summarize())\n",
            HEAD
            + "from lightning.pytorch.utilities.model_summary import summarize\n\n"
            + "class M(pl.LightningModule):\n    def on_fit_start(self):\n"
            + "".join(f"        {line}\n" for line in review_lines(SUMMARIZE_NOTE))
            + "        print(summarize(self))\n",
        ),
        Example(
            "def job(trainer):\n    return trainer.slurm_job_id\n",
            "from lightning.pytorch.plugins.environments import SLURMEnvironment\n\ndef job(trainer):\n    return SLURMEnvironment.job_id()\n",
        ),
        Example(
            "parser.add_argument('--gpus', type=int)\nargs = parser.parse_args()\nprint(args.gpus, args.num_processes)\n"
        ),
        Example(
            "def main(cfg):\n    print(cfg.trainer.gpus, cfg.trainer.resume_from_checkpoint)\n"
        ),
        Example("trainer = config['trainer']\nprint(trainer.gpus)\n"),
        Example("class Other:\n    def f(self):\n        return self.use_amp, self.on_tpu\n"),
    )

    def applies(self, source: str) -> bool:
        return any(
            name in source
            for name in (*TRAINER_ATTRIBUTES, *MODULE_ATTRIBUTES, "summarize(", "slurm_job_id")
        )

    def transformer(self, context: RuleContext) -> cst.CSTTransformer:
        return _Attributes(context)

    def apply(self, module: cst.Module, context: RuleContext) -> cst.Module:
        transformer = _Attributes(context)
        return add_imports(module.visit(transformer), transformer.imports)
