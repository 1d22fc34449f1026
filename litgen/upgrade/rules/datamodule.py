"""LightningDataModule API 2.x removed: the transforms/`dims` constructor arguments, `size()`, the `has_*` flags."""

# 1.x's LightningDataModule(train_transforms=None, val_transforms=None, test_transforms=None,
# dims=None) kept the four values as attributes (`dims` defaulting to `()`), and `size(dim=None)`
# returned `dims` or `dims[dim]`. 2.x's constructor takes no arguments and has none of them:
# `super().__init__(dims=...)` raises, and a read of `self.dims` the class never assigned fails. The
# rewrite keeps 1.x's values as the plain attributes the class already reads.

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import libcst as cst
import libcst.matchers as m

from litgen.convert.names import code
from litgen.cst_walk import find
from litgen.upgrade.classes import SUPER_INIT, lightning_classes
from litgen.upgrade.rule import PL_IMPORT, Example, Rule, RuleContext, RuleTransformer

DATAMODULE = "lightning.pytorch.LightningDataModule"
ATTRIBUTES = (
    "train_transforms",
    "val_transforms",
    "test_transforms",
    "dims",
)  # 1.x's positional order
DEFAULTS = {
    "train_transforms": "None",
    "val_transforms": "None",
    "test_transforms": "None",
    "dims": "()",
}
HAS_FLAGS = tuple(
    f"has_{what}_{stage}"
    for what in ("setup", "teardown")
    for stage in ("fit", "validate", "test", "predict")
) + ("has_prepared_data",)


def _self_attributes(node: cst.CSTNode) -> tuple[set[str], set[str]]:
    """(read, assigned) names of `self.X` for the 1.x attributes, anywhere in NODE."""
    read: set[str] = set()
    assigned: set[str] = set()
    for target in find(node, cst.AssignTarget):
        if m.matches(target.target, m.Attribute(value=m.Name("self"))):
            assigned.add(target.target.attr.value)  # type: ignore[attr-defined]
    for attribute in find(node, cst.Attribute):
        if m.matches(attribute.value, m.Name("self")) and attribute.attr.value in ATTRIBUTES:
            read.add(attribute.attr.value)
        elif m.matches(attribute, m.Attribute(value=m.Name("self"), attr=m.Name("size"))):
            read.add("dims")  # `self.size()` becomes a read of `self.dims`
    return read - assigned, assigned


class _DataModuleApi(RuleTransformer):
    rule = "datamodule"

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        kinds = lightning_classes(context.module, context)
        self.datamodules = {name for name, kind in kinds.items() if kind == "datamodule"} | {
            name for name, kind in context.project.kinds.items() if kind in ("module", "datamodule")
        }
        self.instances = self._instances(context.module)
        self._classes: list[
            tuple[bool, set[str]]
        ] = []  # (derives from Lightning's directly, attributes it needs)
        self._methods: list[str] = []

    def _instances(self, module: cst.Module) -> set[str]:
        """Names assigned a DataModule of this file or this upgrade (`dm = MNISTData(...)`)."""
        names = set()
        for assign in find(module, cst.Assign):
            call = assign.value
            if (
                isinstance(call, cst.Call)
                and isinstance(call.func, cst.Name)
                and call.func.value in self.datamodules
            ):
                names |= {code(t.target) for t in assign.targets}
        return names

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        direct = node.name.value in self.datamodules and any(
            self.context.qualify(b.value) == DATAMODULE for b in node.bases
        )
        read_only, _ = _self_attributes(node) if direct else (set(), set())
        self._classes.append((direct, read_only))

    def leave_ClassDef(
        self, original_node: cst.ClassDef, updated_node: cst.ClassDef
    ) -> cst.ClassDef:
        direct, missing = self._classes.pop()
        if direct and missing and not self._has_super_init(original_node):
            names = ", ".join(f"`self.{name}`" for name in ATTRIBUTES if name in missing)
            self.note(
                f"1.x's LightningDataModule gave {names} a default; 2.x does not: assign it in `__init__`",
                "manual",
            )
        return updated_node

    @staticmethod
    def _has_super_init(node: cst.ClassDef) -> bool:
        init = next(
            (
                s
                for s in node.body.body
                if isinstance(s, cst.FunctionDef) and s.name.value == "__init__"
            ),
            None,
        )
        return init is not None and any(
            m.matches(call, SUPER_INIT) for call in find(init, cst.Call)
        )

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._methods.append(node.name.value)

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef:
        self._methods.pop()
        return updated_node

    def _in_direct_init(self) -> bool:
        return bool(self._classes) and self._classes[-1][0] and self._methods[-1:] == ["__init__"]

    def _is_datamodule(self, node: cst.BaseExpression) -> bool:
        if m.matches(node, m.Name("self")):
            return bool(self._classes) and self._classes[-1][0]
        if m.matches(node, m.Attribute(attr=m.Name("datamodule")) | m.Name("datamodule")):
            return True  # `self.trainer.datamodule`, `self.datamodule`, a `datamodule` parameter
        return code(node) in self.instances

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement]:
        statement = updated_node.body[0] if len(updated_node.body) == 1 else None
        if (
            not self._in_direct_init()
            or not isinstance(statement, cst.Expr)
            or not m.matches(statement.value, SUPER_INIT)
        ):
            return updated_node
        call = statement.value
        assert isinstance(call, cst.Call)
        if any(arg.star for arg in call.args):
            return self._forwarded(updated_node, statement, call)
        given: dict[str, cst.BaseExpression] = {}
        for index, arg in enumerate(call.args):
            name = (
                arg.keyword.value
                if arg.keyword is not None
                else (ATTRIBUTES[index] if index < len(ATTRIBUTES) else None)
            )
            if name not in ATTRIBUTES:
                self.note(
                    f"2.x's LightningDataModule.__init__ takes no arguments: `{code(arg.value)}` is not one 1.x took",
                    "manual",
                )
                return updated_node
            given[name] = arg.value
        missing = self._classes[-1][1]
        lines = [
            f"self.{name} = {code(given[name]) if name in given else DEFAULTS[name]}"
            for name in ATTRIBUTES
            if name in given or name in missing
        ]
        if not lines:
            return updated_node
        what = ", ".join(name for name in ATTRIBUTES if name in given) or "defaults"
        self.change(f"LightningDataModule.__init__({what}) -> attributes of the DataModule")
        self._classes[-1][1].clear()
        kept = updated_node.with_changes(
            body=[statement.with_changes(value=call.with_changes(args=[]))]
        )
        added = [cst.parse_statement(line) for line in lines]
        if given:  # a comment on the call was about its arguments: it follows them
            kept = kept.with_changes(trailing_whitespace=cst.TrailingWhitespace())
            added[0] = added[0].with_changes(trailing_whitespace=updated_node.trailing_whitespace)
        return cst.FlattenSentinel([kept, *added])

    def _forwarded(
        self, line: cst.SimpleStatementLine, statement: cst.Expr, call: cst.Call
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement]:
        """`super().__init__(*args, **kwargs)`: 1.x's base took the transforms and `dims` from
        them; 2.x's takes nothing. The attributes the class reads are read from the keywords."""
        keywords = next((code(a.value) for a in call.args if a.star == "**"), None)
        missing = self._classes[-1][1]
        lines = [
            f"self.{name} = {keywords}.get({name!r}, {DEFAULTS[name]})"
            if keywords is not None
            else f"self.{name} = {DEFAULTS[name]}"
            for name in ATTRIBUTES
            if name in missing
        ]
        if any(a.star == "*" for a in call.args) and lines:
            self.note("1.x's LightningDataModule also took these positionally: check the callers")
        self.change("LightningDataModule.__init__(*args, **kwargs) -> attributes of the DataModule")
        self._classes[-1][1].clear()
        kept = line.with_changes(body=[statement.with_changes(value=call.with_changes(args=[]))])
        return cst.FlattenSentinel([kept, *(cst.parse_statement(text) for text in lines)])

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        func = updated_node.func
        if (
            not isinstance(func, cst.Attribute)
            or func.attr.value != "size"
            or not self._is_datamodule(func.value)
        ):
            return updated_node
        dims = cst.Attribute(value=func.value, attr=cst.Name("dims"))
        self.change("DataModule.size() -> .dims")
        if not updated_node.args:
            return dims
        return cst.Subscript(
            value=dims, slice=[cst.SubscriptElement(cst.Index(updated_node.args[0].value))]
        )

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.Attribute:
        if original_node.attr.value in HAS_FLAGS and self._is_datamodule(original_node.value):
            self.note(
                f"2.x removed `{original_node.attr.value}`: each hook runs once per stage; drop the guard",
                "manual",
            )
        return updated_node


HEAD = PL_IMPORT
CLASS = HEAD + "class Data(pl.LightningDataModule):\n    def __init__(self):\n"


class DataModuleRule(Rule):
    name = "datamodule"
    summary = "LightningDataModule transforms/dims arguments -> attributes; size() -> dims; has_* flags reported"
    examples: ClassVar[Sequence[Example]] = (
        Example(
            CLASS + "        super().__init__(train_transforms=augment, dims=(1, 28, 28))\n",
            CLASS
            + "        super().__init__()\n        self.train_transforms = augment\n        self.dims = (1, 28, 28)\n",
        ),
        Example(
            CLASS
            + "        super().__init__()\n    def setup(self, stage):\n        self.shape = self.size()\n"
            "        self.first = self.size(0)\n        t = self.val_transforms\n",
            CLASS
            + "        super().__init__()\n        self.val_transforms = None\n        self.dims = ()\n"
            "    def setup(self, stage):\n        self.shape = self.dims\n        self.first = self.dims[0]\n"
            "        t = self.val_transforms\n",
        ),
        Example(
            CLASS + "        super().__init__()\n        self.dims = (3, 32, 32)\n"
            "dm = Data()\nmodel = Net(*dm.size())\nx = torch.zeros(3).size()\n",
            CLASS + "        super().__init__()\n        self.dims = (3, 32, 32)\n"
            "dm = Data()\nmodel = Net(*dm.dims)\nx = torch.zeros(3).size()\n",
        ),
        Example(CLASS + "        super().__init__()\n        self.dims = (1, 28, 28)\n"),
        Example(  # a module asks the data module it was given
            HEAD + "class GAN(pl.LightningModule):\n    def setup(self, stage):\n"
            "        self.img_dim = self.datamodule.size()\n",
            HEAD + "class GAN(pl.LightningModule):\n    def setup(self, stage):\n"
            "        self.img_dim = self.datamodule.dims\n",
        ),
        Example(  # the keywords 1.x's base read come from **kwargs
            HEAD + "class Data(pl.LightningDataModule):\n    def __init__(self, root, **kwargs):\n"
            "        super().__init__(**kwargs)\n"
            "    def setup(self, stage):\n        self.tf = self.train_transforms\n",
            HEAD + "class Data(pl.LightningDataModule):\n    def __init__(self, root, **kwargs):\n"
            "        super().__init__()\n"
            "        self.train_transforms = kwargs.get('train_transforms', None)\n"
            "    def setup(self, stage):\n        self.tf = self.train_transforms\n",
        ),
        Example(
            "class Data:\n    def __init__(self):\n        super().__init__(dims=(1, 2))\n"
            "    def f(self):\n        return self.size()\n"
        ),
    )

    def applies(self, source: str) -> bool:
        # Not "DataModule": a script may use one another file of the upgrade defines (`RandomData`).
        return any(word in source for word in ("size(", "_transforms", "dims", "has_"))

    def transformer(self, context: RuleContext) -> cst.CSTTransformer:
        return _DataModuleApi(context)
