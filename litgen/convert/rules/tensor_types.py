"""CUDA tensor types in hooks (`torch.cuda.FloatTensor`, a `Tensor` alias picked by a cuda flag) -> device-agnostic.

Older scripts choose a tensor class by hand, `Tensor = torch.cuda.FloatTensor if cuda else
torch.FloatTensor`, and write `x.type(Tensor)`, `Tensor(n, 1).fill_(1.0)` or `Tensor(np_array)`.
Inside a LightningModule that pins every such tensor to the first GPU (or to the CPU), whatever
device Lightning gave this process. The hooks get the same dtype on `self.device` instead, and the
no-op `Variable(...)` wrappers go.
"""

from __future__ import annotations

from collections.abc import Mapping

import libcst as cst

from litgen.convert.facts import Facts
from litgen.convert.names import ImportTable, code

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
