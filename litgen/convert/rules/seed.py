"""Seeding: `torch.manual_seed(s)` becomes `L.seed_everything(s, workers=True)`; seeds it covers go away.

seed_everything also seeds numpy and `random` with s. Where the script had already seeded one of
them with another value, or drew from it after seeding it, that would change its numbers: there
the torch seed is kept as it is.
"""

from __future__ import annotations

from collections.abc import Sequence

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


_COMPANIONS = (("numpy.random.seed",), ("random.seed",))


def _seed_of(
    imports: ImportTable, statement: cst.BaseStatement, qualified: tuple[str, ...]
) -> cst.BaseExpression | None:
    if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
        return seed_call(imports, statement.body[0], qualified)
    return None


def seed_everything_keeps_draws(
    imports: ImportTable, statements: Sequence[cst.BaseStatement], torch_index: int
) -> bool:
    """Whether seeding numpy and `random` where STATEMENTS[TORCH_INDEX] seeds torch changes no draw.

    It does unless the script seeded one of them before with another value, or with anything but
    seeding calls between that seed and the torch seed (draws that reseeding would repeat).
    """
    seed = _seed_of(imports, statements[torch_index], TORCH_SEEDS)
    assert seed is not None
    for qualified in _COMPANIONS:
        for index in range(torch_index - 1, -1, -1):
            earlier = _seed_of(imports, statements[index], qualified)
            if earlier is None:
                continue
            between = statements[index + 1 : torch_index]
            if not same_seed(earlier, seed) or any(
                _seed_of(imports, other, COVERED_SEEDS) is None for other in between
            ):
                return False
            break
    return True
