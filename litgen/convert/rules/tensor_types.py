"""Tensors made in hooks (`torch.cuda.FloatTensor`, a `Tensor` alias, `torch.randn(...)`) -> on `self.device`.

Older scripts choose a tensor class by hand, `Tensor = torch.cuda.FloatTensor if cuda else
torch.FloatTensor`, and write `x.type(Tensor)`, `Tensor(n, 1).fill_(1.0)` or `Tensor(np_array)`.
Inside a LightningModule that pins every such tensor to the first GPU (or to the CPU), whatever
device Lightning gave this process. The hooks get the same dtype on `self.device` instead, and the
no-op `Variable(...)` wrappers go.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import libcst as cst

from litgen.convert.facts import Facts
from litgen.convert.names import ImportTable, code
from litgen.convert.rules.device import is_self_assignment

_DTYPES = {
    "FloatTensor": "float32",
    "DoubleTensor": "float64",
    "HalfTensor": "float16",
    "BFloat16Tensor": "bfloat16",
    "LongTensor": "int64",
    "IntTensor": "int32",
    "ShortTensor": "int16",
    "CharTensor": "int8",
    "ByteTensor": "uint8",
    "BoolTensor": "bool",
}
_VARIABLE = ("torch.autograd.Variable", "torch.autograd.variable.Variable")
# Factories that make a tensor on the CPU unless told otherwise. On the CPU `device=self.device`
# changes nothing (a random one draws the same numbers); on a GPU the tensor meets the batch there.
# Not `randperm`: its result often indexes a tensor that stays on the CPU.
_FACTORIES = frozenset(
    f"torch.{name}"
    for name in (
        "randn",
        "rand",
        "randint",
        "zeros",
        "ones",
        "full",
        "empty",
        "arange",
        "linspace",
        "eye",
    )
)
_EQUAL = cst.AssignEqual(
    whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
)
# a CPU generator cannot draw on a GPU; `out=` already says where the result goes
_PLACED = frozenset({"device", "generator", "out"})


def _dtype_of_class(imports: ImportTable, node: cst.BaseExpression) -> str | None:
    qualified = imports.qualify(node) or ""
    module, _, name = qualified.rpartition(".")
    return _DTYPES.get(name) if module in ("torch", "torch.cuda") else None


def tensor_aliases(imports: ImportTable, facts: Facts) -> dict[str, str]:
    """`Tensor = torch.cuda.FloatTensor if cuda else torch.FloatTensor` -> {"Tensor": "float32"}."""
    aliases: dict[str, str] = {}
    for name, bindings in facts.bindings.items():
        kinds = set()
        for binding in bindings:
            value = binding.value
            branches = [value.body, value.orelse] if isinstance(value, cst.IfExp) else [value]
            kinds |= {_dtype_of_class(imports, branch) for branch in branches}
        kind = kinds.pop() if len(kinds) == 1 else None
        if kind is not None:
            aliases[name] = kind
    return aliases


class DeviceAgnosticTypes(cst.CSTTransformer):
    """Rewrite tensor-class uses in hook bodies to dtypes on `self.device`."""

    def __init__(self, imports: ImportTable, aliases: Mapping[str, str], torch: str) -> None:
        self.imports = imports
        self.aliases = aliases
        self.torch = torch
        self.numpy = {local for local, full in imports.aliases.items() if full == "numpy"}

    def _dtype(self, node: cst.BaseExpression) -> str | None:
        if isinstance(node, cst.Name) and node.value in self.aliases:
            return self.aliases[node.value]
        return _dtype_of_class(self.imports, node)

    def _is_data(self, node: cst.BaseExpression) -> bool:
        """`np.random.normal(...)`, a list: values for the tensor (anything else passed alone is a size)."""
        if isinstance(node, (cst.List, cst.ListComp)):
            return True
        func = node.func if isinstance(node, cst.Call) else None
        root = func
        while isinstance(root, cst.Attribute):
            root = root.value
        return isinstance(root, cst.Name) and root.value in self.numpy

    def leave_IndentedBlock(
        self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock
    ) -> cst.IndentedBlock:
        kept = [s for s in updated_node.body if not only_self_assignments(s)]
        if len(kept) == len(updated_node.body):
            return updated_node
        return updated_node.with_changes(body=kept or [cst.SimpleStatementLine([cst.Pass()])])

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        func, args = updated_node.func, updated_node.args
        if self.imports.qualify(func) in _VARIABLE and args and args[0].keyword is None:
            grad = [
                a for a in args[1:] if a.keyword is not None and a.keyword.value == "requires_grad"
            ]
            wrapped = args[0].value
            if grad and code(grad[0].value) == "True":
                return cst.parse_expression(f"{code(wrapped)}.requires_grad_()")
            return wrapped
        if (
            isinstance(func, cst.Attribute)
            and func.attr.value == "type"
            and len(args) == 1
            and args[0].keyword is None
        ):
            dtype = self._dtype(args[0].value)
            if dtype is not None:
                return cst.parse_expression(
                    f"{code(func.value)}.to(self.device, {self.torch}.{dtype})"
                )
        if self.imports.qualify(func) in _FACTORIES and not any(
            a.star or (a.keyword is not None and a.keyword.value in _PLACED) for a in args
        ):
            return updated_node.with_changes(
                args=[
                    *_with_comma(args),
                    cst.Arg(cst.parse_expression("self.device"), cst.Name("device"), equal=_EQUAL),
                ]
            )
        dtype = self._dtype(func)
        if dtype is None or any(a.keyword is not None or a.star for a in args):
            return updated_node
        values = ", ".join(code(a.value) for a in args)
        if len(args) == 1 and self._is_data(args[0].value):
            return cst.parse_expression(
                f"{self.torch}.tensor({values}, dtype={self.torch}.{dtype}, device=self.device)"
            )
        return cst.parse_expression(
            f"{self.torch}.empty({values}, dtype={self.torch}.{dtype}, device=self.device)"
        )


def _with_comma(args: Sequence[cst.Arg]) -> list[cst.Arg]:
    """ARGS, the last one followed by a comma so that another can follow."""
    if not args:
        return []
    last = args[-1]
    after = last.comma.whitespace_after if isinstance(last.comma, cst.Comma) else None
    if not isinstance(after, cst.ParenthesizedWhitespace) and not (
        isinstance(after, cst.SimpleWhitespace) and after.value
    ):
        # none yet, or `f(n,)`: one followed by nothing (a line break keeps its own layout)
        last = last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
    return [*args[:-1], last]


def only_self_assignments(statement: cst.BaseStatement) -> bool:
    """`data, target = data, target`: what `= Variable(data), Variable(target)` becomes here."""
    return isinstance(statement, cst.SimpleStatementLine) and all(
        is_self_assignment(small) for small in statement.body
    )
