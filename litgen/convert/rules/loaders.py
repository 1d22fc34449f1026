"""What the batch loop iterates must be re-iterable every epoch: lists get a DataLoader, generators are refused."""

from __future__ import annotations

import libcst as cst

from litgen.convert.context import Ctx
from litgen.convert.names import code, dotted
from litgen.convert.script import iter_nodes


def _yields(function: cst.FunctionDef) -> bool:
    return any(isinstance(node, (cst.Yield,)) for node in iter_nodes(function.body))


def checked_loader(ctx: Ctx, loader: cst.BaseExpression, line: int | None) -> cst.BaseExpression:
    """The loader to hand to the Trainer (wrapped if it is a plain list of batches)."""
    value = loader
    if isinstance(loader, cst.Name):
        binding = ctx.facts.last(loader.value)
        value = binding.value if binding is not None else loader
    if isinstance(value, cst.Call):
        name = dotted(value.func) or ""
        function = ctx.script.functions.get(name)
        if name == "zip" or (function is not None and _yields(function)):
            ctx.refuse(
                f"the batch loop iterates over `{code(loader)}`, which is used up after one pass; "
                "Lightning iterates the loader again every epoch (use a DataLoader)",
                line=line,
            )
    listed = isinstance(value, (cst.List, cst.Tuple, cst.ListComp)) or (
        isinstance(value, cst.Call) and dotted(value.func) in ("list", "tuple")
    )
    if not listed:
        return loader
    if ctx.imports.aliases.get("torch") != "torch":
        ctx.refuse(
            f"the batch loop iterates over a plain list (`{code(loader)}`); wrap it in a DataLoader",
            line=line,
        )
    ctx.mapped(
        f"list of batches `{code(loader)}`",
        line,
        "DataLoader(..., batch_size=None) yielding the same batches",
    )
    return cst.parse_expression(f"torch.utils.data.DataLoader({code(loader)}, batch_size=None)")
