"""Seeding: `torch.manual_seed(s)` becomes `L.seed_everything(s, workers=True)`; seeds it covers go away."""

from __future__ import annotations

import libcst as cst

from litgen.convert.names import ImportTable, code

TORCH_SEEDS = ("torch.manual_seed", "torch.random.manual_seed")
COVERED_SEEDS = (
    "torch.cuda.manual_seed",
    "torch.cuda.manual_seed_all",
    "random.seed",
    "numpy.random.seed",
    "torch.manual_seed",
    "torch.random.manual_seed",
)


def seed_call(
    imports: ImportTable, small: cst.BaseSmallStatement, qualified: tuple[str, ...]
) -> cst.BaseExpression | None:
    """The seed expression of `torch.manual_seed(s)` (or another seeding call) written as a statement."""
    if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
        call = small.value
        if (
            imports.qualify(call.func) in qualified
            and len(call.args) == 1
            and call.args[0].keyword is None
        ):
            return call.args[0].value
    return None


def seed_everything(lightning: str, seed: cst.BaseExpression) -> cst.BaseSmallStatement:
    return cst.Expr(
        cst.parse_expression(f"{lightning}.seed_everything({code(seed)}, workers=True)")
    )


def same_seed(a: cst.BaseExpression, b: cst.BaseExpression) -> bool:
    return code(a).strip() == code(b).strip()
