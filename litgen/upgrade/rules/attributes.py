"""Trainer and LightningModule attributes 2.x renamed or removed (`trainer.num_gpus`, `self.use_amp`, ...)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

import libcst as cst
import libcst.matchers as m

from litgen.convert.names import code
from litgen.cst_walk import find, holds_statements
from litgen.upgrade.added_imports import add_imports
from litgen.upgrade.attribute_table import (
    MODULE_ATTRIBUTES,
    PRECISIONS,
    TRAINER_ATTRIBUTES,
    TRAINER_OWNERS,
    Attribute,
)
from litgen.upgrade.classes import classes_of
from litgen.upgrade.rule import PL_IMPORT, Example, Rule, RuleContext, RuleTransformer, note_text

TRAINER = "lightning.pytorch.Trainer"
_OWN_PRECISION = re.compile(r"self\.precision\s*=(?!=)")  # a class that sets its own
PRECISION_NOTE = (
    '2.x\'s `trainer.precision` is a string such as "16-mixed", "bf16-mixed" or "32-true"'
)
SUMMARIZE_NOTE = "`summarize(self)` returns the summary as 1.x's `self.summarize()` did, but does not log it: print it"


LOADER_LISTS = ("val_dataloaders", "test_dataloaders", "predict_dataloaders")
# what 2.x's `trainer._accelerator_connector` still has of 1.x's `accelerator_connector`
_CONNECTOR_KEPT = frozenset(
    {"accelerator", "strategy", "precision_plugin", "cluster_environment", "checkpoint_io"}
    | {"is_distributed", "use_distributed_sampler"}
)


class _Attributes(RuleTransformer):
    rule = "attributes"

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        self.modules = classes_of(context, "module")
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
        self._members: dict[str, set[str]] = {}

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

    def _own_members(self, class_name: str) -> set[str]:
        """What the class defines itself: methods and properties, and `self.name = ...` attributes."""
        if class_name not in self._members:
            members: set[str] = set()
            for klass in find(self.context.module, cst.ClassDef, enter=holds_statements):
                if klass.name.value == class_name:
                    members |= {f.name.value for f in find(klass, cst.FunctionDef)}
                    members |= {
                        target.target.attr.value
                        for assign in find(klass, cst.Assign)
                        for target in assign.targets
                        if isinstance(target.target, cst.Attribute)
                        and m.matches(target.target.value, m.Name("self"))
                    }
            self._members[class_name] = members
        return self._members[class_name]

    def _is_module_self(self, node: cst.BaseExpression) -> bool:
        return (
            m.matches(node, m.Name("self"))
            and bool(self.class_names)
            and self.class_names[-1] in self.modules
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
        if name not in _CONNECTOR_KEPT and self._is_trainer_part(
            original_node.value, "accelerator_connector"
        ):  # 2.x's private connector keeps only these; 1.x's flags (use_ddp, gpus, ...) are gone
            self.note(
                f"`trainer.accelerator_connector.{name}` is gone in 2.x: test `trainer.strategy`, "
                "`trainer.num_devices` or `trainer.accelerator` instead",
                "manual",
            )
            return updated_node
        if name in TRAINER_ATTRIBUTES and self._is_trainer(original_node.value):
            return self._apply(TRAINER_ATTRIBUTES[name], f"trainer.{name}", updated_node)
        if name == "main_progress_bar":  # TQDMProgressBar's training bar, renamed in 2.0
            self.change("main_progress_bar -> train_progress_bar")
            return updated_node.with_changes(attr=cst.Name("train_progress_bar"))
        if name == "running_loss" and self._is_trainer_part(original_node.value, "fit_loop"):
            self.note(
                "2.x's fit loop keeps no running loss: average the step losses yourself", "manual"
            )
        if name == "loaders" and self._is_trainer_part(original_node.value, "train_dataloader"):
            # 1.x wrapped the loaders in a CombinedLoader; 2.x hands back what fit was given
            self.change("trainer.train_dataloader.loaders -> trainer.train_dataloader")
            return updated_node.value
        if name == "root_device" and self._is_trainer_part(original_node.value, "accelerator"):
            self.change("trainer.accelerator.root_device -> trainer.strategy.root_device")
            assert isinstance(updated_node.value, cst.Attribute)
            return updated_node.with_changes(
                value=updated_node.value.with_changes(attr=cst.Name("strategy"))
            )
        if name == "precision" and _OWN_PRECISION.search(self.context.module.code):
            return updated_node  # the class keeps a precision of its own
        if (
            name in MODULE_ATTRIBUTES
            and self._is_module_self(original_node.value)
            and name not in self._own_members(self.class_names[-1])
        ):
            return self._apply(MODULE_ATTRIBUTES[name], f"self.{name}", updated_node)
        return updated_node

    def _loader_list(self, node: cst.BaseExpression, use: str) -> None:
        """`trainer.val_dataloaders` indexed, iterated or counted: 1.x's was always a list."""
        if (
            isinstance(node, cst.Attribute)
            and node.attr.value in LOADER_LISTS
            and self._is_trainer(node.value)
        ):
            self.note(
                f"1.x's `trainer.{node.attr.value}` was always a list; 2.x's is what was passed "
                f"(one DataLoader is not {use} as a list): handle a single loader",
                "manual",
            )

    def leave_For(self, original_node: cst.For, updated_node: cst.For) -> cst.For:
        self._loader_list(original_node.iter, "iterable")
        return updated_node

    def _is_trainer_part(self, node: cst.BaseExpression, part: str) -> bool:
        return (
            isinstance(node, cst.Attribute)
            and node.attr.value == part
            and self._is_trainer(node.value)
        )

    def leave_Comparison(
        self, original_node: cst.Comparison, updated_node: cst.Comparison
    ) -> cst.BaseExpression:
        """`trainer.precision == 16` -> `== "16-mixed"`: 2.x's values are other strings."""
        sides = [updated_node.left, *(target.comparator for target in updated_node.comparisons)]
        if not any(
            isinstance(side, cst.Attribute)
            and side.attr.value == "precision"
            and (self._is_trainer(side.value) or self._is_trainer_part(side.value, "trainer"))
            for side in sides
        ):
            return updated_node
        targets = []
        for target in updated_node.comparisons:
            new = _precision_literal(target.comparator)
            if new is None:
                self.note(PRECISION_NOTE)
                return updated_node
            targets.append(target.with_changes(comparator=new))
        left = _precision_literal(updated_node.left)
        if left is None and not isinstance(updated_node.left, cst.Attribute):
            self.note(PRECISION_NOTE)
            return updated_node
        upgraded = updated_node.with_changes(left=left or updated_node.left, comparisons=targets)
        if not upgraded.deep_equals(updated_node):
            self.change("trainer.precision compared with 1.x values -> 2.x values")
        return upgraded

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
        self._loader_list(inner, "indexable")
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


def _precision_literal(node: cst.BaseExpression) -> cst.BaseExpression | None:
    """A 1.x precision literal (or a tuple/list/set of them) in 2.x's spelling; None: not one.

    The Trainer attribute itself is returned as it is (the other side of the comparison).
    """
    if isinstance(node, cst.Attribute):
        return node if node.attr.value == "precision" else None
    if isinstance(node, cst.Tuple | cst.List | cst.Set):
        elements = []
        for element in node.elements:
            new = _precision_literal(element.value)
            if new is None or isinstance(element, cst.StarredElement):
                return None
            elements.append(element.with_changes(value=new))
        return node.with_changes(elements=elements)
    value: object
    if isinstance(node, cst.Integer):
        value = int(node.value)
    elif isinstance(node, cst.SimpleString):
        value = node.evaluated_value
    else:
        return None
    if value in PRECISIONS.values() or value in ("16-true", "bf16-true", "transformer-engine"):
        return node  # already a 2.x name
    spelled = PRECISIONS.get(value)
    return cst.SimpleString(f'"{spelled}"') if spelled is not None else None


HEAD = PL_IMPORT


class AttributesRule(Rule):
    name = "attributes"
    summary = "Trainer and LightningModule attributes 2.x renamed or removed"
    examples: ClassVar[Sequence[Example]] = (
        Example(  # a name the class defines itself is the class's, not Lightning's
            PL_IMPORT + "class M(pl.LightningModule):\n    @property\n    def use_ddp(self):\n"
            "        return True\n\n    def f(self):\n        return self.use_ddp\n"
        ),
        Example(  # the private connector kept some of 1.x's attributes, not its flags
            "class C(pl.Callback):\n    def setup(self, trainer, pl_module, stage):\n"
            "        self.ddp = trainer.accelerator_connector.use_ddp\n",
            "class C(pl.Callback):\n    def setup(self, trainer, pl_module, stage):\n"
            + note_text(
                "`trainer.accelerator_connector` is private in 2.x (`trainer._accelerator_connector`)",
                "        ",
            )
            + note_text(
                "`trainer.accelerator_connector.use_ddp` is gone in 2.x: test `trainer.strategy`, "
                "`trainer.num_devices` or `trainer.accelerator` instead",
                "        ",
            )
            + "        self.ddp = trainer._accelerator_connector.use_ddp\n",
        ),
        Example(  # 2.x's precision names the mode: a 1.x comparison would be False forever
            "class C(pl.Callback):\n    def on_train_start(self, trainer, pl_module):\n"
            "        half = trainer.precision == 16\n"
            "        low = trainer.precision in (16, 'bf16')\n",
            "class C(pl.Callback):\n    def on_train_start(self, trainer, pl_module):\n"
            '        half = trainer.precision == "16-mixed"\n'
            '        low = trainer.precision in ("16-mixed", "bf16-mixed")\n',
        ),
        Example(
            HEAD + "class M(pl.LightningModule):\n    def on_fit_start(self):\n"
            "        if self.precision == 16:\n            self.half_setup()\n"
            "        self.loader = self.trainer.train_dataloader.loaders\n",
            HEAD + "class M(pl.LightningModule):\n    def on_fit_start(self):\n"
            '        if self.trainer.precision == "16-mixed":\n            self.half_setup()\n'
            "        self.loader = self.trainer.train_dataloader\n",
        ),
        Example(
            "class C(pl.Callback):\n    def on_train_start(self, trainer, pl_module):\n"
            "        device = trainer.accelerator.root_device\n",
            "class C(pl.Callback):\n    def on_train_start(self, trainer, pl_module):\n"
            "        device = trainer.strategy.root_device\n",
        ),
        Example(
            "class C(pl.Callback):\n    def on_train_start(self, trainer, pl_module):\n"
            "        if trainer.running_sanity_check or trainer.root_gpu is None:\n            return\n",
            "class C(pl.Callback):\n    def on_train_start(self, trainer, pl_module):\n"
            "        if trainer.sanity_checking or trainer.strategy.root_device.index is None:\n            return\n",
        ),
        Example(
            HEAD + "class M(pl.LightningModule):\n    def on_fit_start(self):\n"
            '        scheduler = self.trainer.lr_schedulers[0]["scheduler"]\n'
            "        self.plugin = self.trainer.training_type_plugin\n",
            HEAD + "class M(pl.LightningModule):\n    def on_fit_start(self):\n"
            "        scheduler = self.trainer.lr_scheduler_configs[0].scheduler\n"
            "        self.plugin = self.trainer.strategy\n",
        ),
        Example(
            HEAD
            + "class M(pl.LightningModule):\n    def on_fit_start(self):\n        print(self.summarize())\n",
            HEAD
            + "from lightning.pytorch.utilities.model_summary import summarize\n\n"
            + "class M(pl.LightningModule):\n    def on_fit_start(self):\n"
            + note_text(SUMMARIZE_NOTE, "        ")
            + "        print(summarize(self))\n",
        ),
        Example(
            "def job(trainer):\n    return trainer.slurm_job_id\n",
            "from lightning.pytorch.plugins.environments import SLURMEnvironment\n"
            "\ndef job(trainer):\n    return SLURMEnvironment.job_id()\n",
        ),
        Example(
            "parser.add_argument('--gpus', type=int)\n"
            "args = parser.parse_args()\nprint(args.gpus, args.num_processes)\n"
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
            for name in (
                *TRAINER_ATTRIBUTES,
                *MODULE_ATTRIBUTES,
                *LOADER_LISTS,
                "summarize(",
                "slurm_job_id",
                "main_progress_bar",
                "running_loss",
                ".loaders",
                "root_device",
            )
        )

    def transformer(self, context: RuleContext) -> cst.CSTTransformer:
        return _Attributes(context)

    def apply(self, module: cst.Module, context: RuleContext) -> cst.Module:
        transformer = _Attributes(context)
        return add_imports(module.visit(transformer), transformer.imports)
