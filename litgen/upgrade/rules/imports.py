"""`pytorch_lightning` -> `lightning.pytorch` (one namespace), and names that moved or went in 2.x."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import libcst as cst

from litgen.convert.names import dotted
from litgen.review import review_lines
from litgen.upgrade.added_imports import add_imports
from litgen.upgrade.moves import (
    MOVED_MODULES,
    MOVED_NAMES,
    TASK_METRICS,
    TASK_NOTE,
    TASK_SUBCLASS_NOTE,
    Move,
)
from litgen.upgrade.name_index import missing_in_2x
from litgen.upgrade.rule import Example, Rule, RuleContext, RuleTransformer, names_in, namespace

LEGACY = "pytorch_lightning"


def _expression(dotted_name: str) -> cst.BaseExpression:
    return cst.parse_expression(dotted_name)


def _moved_module(qualified: str) -> tuple[str, str | None]:
    """(the 2.x path, the 2.x module it now lives in if that module moved) for a namespaced 1.x path."""
    for old in sorted(MOVED_MODULES, key=len, reverse=True):
        if qualified == old or qualified.startswith(old + "."):
            return MOVED_MODULES[old] + qualified.removeprefix(old), MOVED_MODULES[old]
    return qualified, None


class _Imports(RuleTransformer):
    rule = "imports"

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        self.renames: dict[
            str, str
        ] = {}  # local names whose import changed name (`LightningLoggerBase` -> `Logger`)
        self.needed: set[str] = set()  # modules the rewritten chains need imported (`torchmetrics`)
        self.bound = names_in(context.module)
        self.bare_legacy = (
            any(  # `import pytorch_lightning`: chains `pytorch_lightning.x` are rewritten
                name == LEGACY
                for name in context.imports.aliases
                if context.imports.aliases[name] == LEGACY
            )
        )

    # --- import statements --------------------------------------------------------------------
    def visit_Import(self, node: cst.Import) -> bool:
        return False  # its dotted names are rewritten (and reported) by leave_Import, not as chains

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        return False  # rewritten whole from leave_SimpleStatementLine

    def leave_Import(self, original_node: cst.Import, updated_node: cst.Import) -> cst.Import:
        names = []
        for alias in updated_node.names:
            full = dotted(alias.name) or ""
            new, _ = _moved_module(namespace(full))
            if new != full:
                alias = alias.with_changes(name=_expression(new))
                self.change(f"import {full} -> import {new}")
            self._check_exists(new)
            names.append(alias)
        return updated_node.with_changes(names=names)

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement] | cst.RemovalSentinel:
        if not any(isinstance(s, cst.ImportFrom) for s in updated_node.body):
            return updated_node
        kept: list[cst.BaseSmallStatement] = []
        extra: list[cst.SimpleStatementLine] = []
        for small in updated_node.body:
            rewritten = self._import_from(small) if isinstance(small, cst.ImportFrom) else None
            if rewritten is None:
                kept.append(small)
                continue
            kept.extend(rewritten[:1])
            extra.extend(cst.SimpleStatementLine([statement]) for statement in rewritten[1:])
        if not kept and not extra:
            return cst.RemovalSentinel.REMOVE
        if not kept:
            first = extra.pop(0).with_changes(leading_lines=updated_node.leading_lines)
        else:
            first = updated_node.with_changes(
                body=[k.with_changes(semicolon=cst.MaybeSentinel.DEFAULT) for k in kept]
            )
        return cst.FlattenSentinel([first, *extra]) if extra else first

    def _import_from(self, node: cst.ImportFrom) -> list[cst.ImportFrom] | None:
        """The statements that replace `from <1.x module> import ...` (empty: all removed); None: unchanged."""
        if node.relative or node.module is None:
            return None
        module = dotted(node.module) or ""
        base = namespace(module)
        new_base, _ = _moved_module(base)
        if isinstance(node.names, cst.ImportStar):
            if new_base == module:
                return None
            self.change(f"from {module} import * -> from {new_base} import *")
            return [node.with_changes(module=_expression(new_base))]
        if new_base == module and not any(
            _move(f"{base}.{dotted(a.name)}", module) for a in node.names
        ):
            return None
        by_module: dict[str, list[cst.ImportAlias]] = {}
        for alias in node.names:
            name = dotted(alias.name) or ""
            local = (
                alias.asname.name.value
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name)
                else name
            )
            move = _move(f"{base}.{name}", module)
            if move is not None and move.new is None:
                if move.uses_removed:
                    self.change(f"import of {module}.{name} removed")
                else:
                    self.note(f"`{name}` is no longer imported: {move.note}", "manual")
                continue
            target = move.new if move is not None and move.new is not None else f"{new_base}.{name}"
            new_module, _, new_name = target.rpartition(".")
            if move is not None and move.note:
                self.note(move.note)
            if new_name != name:
                if alias.asname is None and new_name not in self.bound:
                    self.renames[local] = new_name
                    alias = alias.with_changes(name=cst.Name(new_name))
                else:
                    alias = alias.with_changes(
                        name=cst.Name(new_name), asname=cst.AsName(cst.Name(local))
                    )
            if move is None:
                self._check_exists(new_module, new_name)
            if any(
                _bound(alias) == _bound(seen) for seen in by_module.get(new_module, [])
            ):  # `DDPPlugin, DDPSpawnPlugin` are both DDPStrategy now
                continue
            by_module.setdefault(new_module, []).append(alias)
            if target != f"{module}.{name}":
                self.change(f"{module}.{name} -> {target}")
        statements = []
        for new_module, aliases in by_module.items():
            aliases = [*aliases[:-1], aliases[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)]
            statements.append(node.with_changes(module=_expression(new_module), names=aliases))
        return statements  # empty: the whole import went; its notes are listed in the report

    def _check_exists(self, module: str, name: str | None = None) -> None:
        why = missing_in_2x(module, name)
        if why is not None:
            self.note(f"{why}: find what replaced it in Lightning's CHANGELOG", "manual")

    # --- references ---------------------------------------------------------------------------
    def leave_Decorator(
        self, original_node: cst.Decorator, updated_node: cst.Decorator
    ) -> cst.Decorator | cst.RemovalSentinel:
        if (
            self.context.qualify(original_node.decorator)
            == "lightning.pytorch.core.decorators.auto_move_data"
        ):
            self.note(
                "@auto_move_data removed: the Trainer moves each batch to the device before the step"
            )
            self.change("@auto_move_data removed")
            return cst.RemovalSentinel.REMOVE
        return updated_node

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.BaseExpression:
        imported = self.context.imported(original_node)
        root = _root(original_node)
        if imported is None or root is None:
            return updated_node
        qualified = namespace(imported)
        move = _move(qualified, imported)
        if move is not None and move.new is None:
            self.note(f"`{qualified}`: {move.note}", "manual")
            return updated_node
        full, moved_to = (
            (move.new, move.new.rpartition(".")[0])
            if move is not None and move.new
            else _moved_module(qualified)
        )
        if root == LEGACY and self.bare_legacy:
            return _expression(full) if full != imported else updated_node
        if full == qualified:
            return updated_node
        prefix = namespace(self.context.imports.aliases[root])
        if full.startswith(prefix + "."):
            return _expression(root + full.removeprefix(prefix))
        if moved_to is not None:
            self.needed.add(moved_to)
        return _expression(full)

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
        new = self.renames.get(original_node.value)
        return updated_node.with_changes(value=new) if new is not None else updated_node

    def _task_metric(self, node: cst.BaseExpression) -> str | None:
        """The metric NODE names if torchmetrics now needs `task=` for it (1.x's or torchmetrics')."""
        module, _, name = namespace(self.context.imported(node) or "").rpartition(".")
        if name in TASK_METRICS and any(
            module == root or module.startswith(root + ".")
            for root in ("lightning.pytorch.metrics", "torchmetrics")
        ):
            return name
        return None

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        if self._task_metric(original_node.func) is not None and not any(
            a.keyword is not None and a.keyword.value == "task" for a in original_node.args
        ):
            self.note(TASK_NOTE, "manual")
        return updated_node

    def leave_ClassDef(
        self, original_node: cst.ClassDef, updated_node: cst.ClassDef
    ) -> cst.ClassDef:
        for base in original_node.bases:
            metric = self._task_metric(base.value)
            if metric is not None:
                self.note(TASK_SUBCLASS_NOTE.format(metric=metric), "manual")
        return updated_node


def _move(qualified: str, written: str) -> Move | None:
    """The move for a namespaced name, as the script WRITTEN it (a `legacy_only` move needs pytorch_lightning)."""
    move = MOVED_NAMES.get(qualified)
    if move is not None and move.legacy_only and not written.startswith(LEGACY):
        return None
    return move


def _bound(alias: cst.ImportAlias) -> tuple[str | None, str | None]:
    """What an import alias imports and the name it binds."""
    asname = alias.asname.name if alias.asname is not None else None
    return dotted(alias.name), dotted(asname) if isinstance(asname, cst.BaseExpression) else None


def _root(node: cst.BaseExpression) -> str | None:
    while isinstance(node, cst.Attribute):
        node = node.value
    return node.value if isinstance(node, cst.Name) else None


class ImportsRule(Rule):
    name = "imports"
    summary = "one namespace (`lightning.pytorch`); names that moved or were removed in 2.x"
    examples: ClassVar[Sequence[Example]] = (
        Example("import pytorch_lightning as pl\n", "import lightning.pytorch as pl\n"),
        Example(  # names a star import binds are Lightning's too
            "from pytorch_lightning import *\nfrom pytorch_lightning.loops import Loop\n"
            "trainer = Trainer(gpus=0)\n",
            "from lightning.pytorch import *\n"
            "# litgen: Lightning 2.x's `lightning.pytorch.loops` has no `Loop`: find what replaced it in\n"
            "#   Lightning's CHANGELOG\n"
            "from lightning.pytorch.loops import Loop\n"
            "trainer = Trainer(gpus=0)\n",
        ),
        Example(
            "from pytorch_lightning import Trainer\n", "from lightning.pytorch import Trainer\n"
        ),
        Example(
            "import pytorch_lightning\nt = pytorch_lightning.Trainer()\n",
            "import lightning.pytorch\nt = lightning.pytorch.Trainer()\n",
        ),
        Example(
            "from pytorch_lightning.loggers.base import LightningLoggerBase\nclass L(LightningLoggerBase): ...\n",
            "from lightning.pytorch.loggers import Logger\nclass L(Logger): ...\n",
        ),
        Example(
            "from pytorch_lightning.core.lightning import LightningModule\n",
            "from lightning.pytorch import LightningModule\n",
        ),
        Example(
            "from pytorch_lightning.callbacks import LearningRateLogger, ModelCheckpoint\n",
            "from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint\n",
        ),
        Example(
            "from pytorch_lightning.utilities.distributed import rank_zero_only\n",
            "from lightning.pytorch.utilities import rank_zero_only\n",
        ),
        Example(
            "import pytorch_lightning as pl\nacc = pl.metrics.Accuracy(task='binary')\n",
            "import lightning.pytorch as pl\nimport torchmetrics\n\nacc = torchmetrics.Accuracy(task='binary')\n",
        ),
        Example(
            "from pytorch_lightning.metrics import Accuracy\nacc = Accuracy()\n",
            "from torchmetrics import Accuracy\n"
            + "\n".join(review_lines(TASK_NOTE))
            + "\nacc = Accuracy()\n",
        ),
        Example(  # torchmetrics itself, as 1.x-era code called it
            "import pytorch_lightning as pl\nfrom torchmetrics import Accuracy\nacc = Accuracy(top_k=1)\n",
            "import lightning.pytorch as pl\nfrom torchmetrics import Accuracy\n"
            + "\n".join(review_lines(TASK_NOTE))
            + "\nacc = Accuracy(top_k=1)\n",
        ),
        Example(
            "import pytorch_lightning as pl\nimport torchmetrics\n"
            "acc = torchmetrics.Accuracy(task='multiclass', num_classes=3)\n",
            "import lightning.pytorch as pl\nimport torchmetrics\n"
            "acc = torchmetrics.Accuracy(task='multiclass', num_classes=3)\n",
        ),
        Example(
            "import pytorch_lightning as pl\nclass Acc(pl.metrics.Accuracy):\n    def update(self, p, t): ...\n",
            "import lightning.pytorch as pl\nimport torchmetrics\n\n"
            + "\n".join(review_lines(TASK_SUBCLASS_NOTE.format(metric="Accuracy")))
            + "\nclass Acc(torchmetrics.Accuracy):\n    def update(self, p, t): ...\n",
        ),
        Example(
            "import lightning.pytorch as pl\nfrom torchmetrics.classification import MulticlassAccuracy\n"
            "class Acc(MulticlassAccuracy): ...\n"
        ),
        Example(
            "from pytorch_lightning.core.decorators import auto_move_data\n"
            "class M:\n    @auto_move_data\n    def forward(self, x): ...\n",
            "class M:\n"
            "    # litgen: @auto_move_data removed: the Trainer moves each batch to the device before the step\n"
            "    def forward(self, x): ...\n",
        ),
        Example(
            "from pytorch_lightning.callbacks import ProgressBar\nbar = ProgressBar(refresh_rate=5)\n",
            "from lightning.pytorch.callbacks import TQDMProgressBar\nbar = TQDMProgressBar(refresh_rate=5)\n",
        ),
        Example(
            "from lightning.pytorch.callbacks import ProgressBar\nclass Bar(ProgressBar): ...\n"
        ),
        Example("import lightning.pytorch as pl\nfrom lightning.pytorch.loggers import Logger\n"),
        Example("import torch\nfrom torch import nn\n"),
    )

    def applies(self, source: str) -> bool:
        return "lightning" in source

    def transformer(self, context: RuleContext) -> cst.CSTTransformer:
        return _Imports(context)

    def apply(self, module: cst.Module, context: RuleContext) -> cst.Module:
        transformer = _Imports(context)
        result = module.visit(transformer)
        return add_imports(result, [(needed, None) for needed in transformer.needed])
