"""Edits to the set-up code around the loop: seeding, model device moves, mode switches."""

from __future__ import annotations

import libcst as cst

from litgen.convert.context import Ctx
from litgen.convert.facts import statements_outside
from litgen.convert.names import code, root_name
from litgen.convert.rewrite import Edits
from litgen.convert.rules.device import (
    is_mode_switch,
    is_move_statement,
    is_self_assignment,
    without_moves,
)
from litgen.convert.rules.distributed import (
    DATA_PARALLEL_NOTE,
    is_plumbing_statement,
    spawn_replacement,
    without_sampler,
)
from litgen.convert.rules.seed import (
    COVERED_SEEDS,
    TORCH_SEEDS,
    same_seed,
    seed_call,
    seed_everything,
    seed_everything_keeps_draws,
)
from litgen.convert.structure import Shape


def _outside_the_loop(ctx: Ctx, shape: Shape) -> list[cst.BaseStatement]:
    scopes: list[cst.CSTNode] = [ctx.script.module]
    if shape.entry is not None:
        scopes.append(shape.entry.body)
    return [
        statement
        for scope in scopes
        for statement in statements_outside(ctx.script, scope, shape.region)
    ]


def setup_statements(ctx: Ctx, shape: Shape) -> list[cst.SimpleStatementLine]:
    return [s for s in _outside_the_loop(ctx, shape) if isinstance(s, cst.SimpleStatementLine)]


def _seed_everything_is_faithful(ctx: Ctx, shape: Shape) -> bool:
    statements = _outside_the_loop(ctx, shape)
    for index, statement in enumerate(statements):
        if (
            isinstance(statement, cst.SimpleStatementLine)
            and len(statement.body) == 1
            and seed_call(ctx.imports, statement.body[0], TORCH_SEEDS) is not None
        ):
            return seed_everything_keeps_draws(ctx.imports, statements, index)
    return True


def _distributed(
    ctx: Ctx, shape: Shape, statement: cst.SimpleStatementLine, edits: Edits, trainer: str
) -> bool:
    """Drop process-group plumbing, DDP wrappers and samplers; call the spawned function directly."""
    facts = ctx.facts
    if (
        is_plumbing_statement(ctx, statement, facts.plumbing)
        or id(statement) in facts.parallel_wrapped
    ):
        edits.drop(statement)
        return True
    small = statement.body[0]
    if (
        isinstance(small, cst.Assign)
        and len(small.targets) == 1
        and isinstance(small.targets[0].target, cst.Name)
    ):
        if small.targets[0].target.value in facts.samplers:
            edits.drop(statement)
            return True
    if id(statement) in facts.spawn_statements:
        replacement = spawn_replacement(ctx, statement)
        if replacement is not None:
            edits.put(statement, [replacement])
            ctx.mapped(
                "mp.spawn(...)",
                ctx.line(statement),
                "a direct call; Lightning starts the processes",
            )
            return True
    rewritten = statement.visit(
        _SetupRewriter(
            ctx, after=(ctx.line(statement) or 0) > ctx.facts.region_line, trainer=trainer
        )
    )
    assert isinstance(rewritten, cst.BaseStatement)
    if rewritten is not statement and code(rewritten) != code(statement):
        edits.put(statement, [rewritten])
        return True
    return False


class _SetupRewriter(cst.CSTTransformer):
    """`ddp_model` -> `model`, `DataLoader(..., sampler=DistributedSampler(...))` -> `shuffle=True`, ranks."""

    def __init__(self, ctx: Ctx, after: bool, trainer: str) -> None:
        super().__init__()
        self.ctx = ctx
        self.names: dict[str, cst.BaseExpression] = dict(ctx.facts.aliases)
        if after:
            self.names.update(
                {
                    rank: cst.parse_expression(f"{trainer}.{kind}")
                    for rank, kind in ctx.facts.ranks.items()
                }
            )

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.BaseExpression:
        return self.names.get(original_node.value, updated_node)

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.BaseExpression:
        if original_node.attr.value == "module" and isinstance(original_node.value, cst.Name):
            if original_node.value.value in self.ctx.facts.parallel_names:
                return updated_node.value  # the DDP wrapper is gone: `model.module` is the model
        return updated_node.with_changes(attr=original_node.attr)

    def leave_Arg(self, original_node: cst.Arg, updated_node: cst.Arg) -> cst.Arg:
        return updated_node.with_changes(keyword=original_node.keyword)

    def leave_AssignTarget(
        self, original_node: cst.AssignTarget, updated_node: cst.AssignTarget
    ) -> cst.AssignTarget:
        return original_node

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        if self.ctx.facts.samplers or any(
            a.keyword and a.keyword.value == "sampler" for a in updated_node.args
        ):
            rewritten = without_sampler(self.ctx, updated_node, self.ctx.facts.samplers)
            if rewritten is not None:
                return rewritten
        return updated_node


def plan_setup(
    ctx: Ctx, shape: Shape, edits: Edits, lightning: str, trainer: str = "trainer"
) -> None:
    seed: cst.BaseExpression | None = None
    faithful = _seed_everything_is_faithful(ctx, shape)
    for statement in setup_statements(ctx, shape):
        if (ctx.facts.distributed or ctx.facts.data_parallel) and _distributed(
            ctx, shape, statement, edits, trainer
        ):
            continue
        if len(statement.body) != 1:
            continue
        small = statement.body[0]
        line = ctx.line(statement)
        torch_seed = seed_call(ctx.imports, small, TORCH_SEEDS)
        if torch_seed is not None and not faithful:
            ctx.mapped(
                f"torch.manual_seed({code(torch_seed)})",
                line,
                "kept: numpy or random is seeded or drawn from before it, and seed_everything "
                "would reseed them",
            )
            continue
        if torch_seed is not None and seed is None:
            seed = torch_seed
            edits.put(
                statement, [statement.with_changes(body=[seed_everything(lightning, torch_seed)])]
            )
            ctx.mapped(
                f"torch.manual_seed({code(torch_seed)})",
                line,
                f"{lightning}.seed_everything(..., workers=True)",
            )
            continue
        covered = seed_call(ctx.imports, small, COVERED_SEEDS)
        if covered is not None and seed is not None and same_seed(covered, seed):
            edits.drop(statement)
            continue
        if isinstance(small, cst.Assign) and len(small.targets) == 1:
            target = small.targets[0].target
            if isinstance(target, cst.Name) and ctx.is_model(target.value):
                stripped = without_moves(ctx, small.value)
                if stripped is not small.value:
                    new_small = small.with_changes(value=stripped)
                    if is_self_assignment(new_small):
                        edits.drop(statement)
                    else:
                        edits.put(statement, [statement.with_changes(body=[new_small])])
                    ctx.mapped(f"device move of `{target.value}`", line, "done by the Trainer")
            continue
        moved = (
            is_move_statement(ctx, small)
            and isinstance(small, cst.Expr)
            and ctx.is_model(root_name(small.value) or "")
        )
        before_training = (
            line or 0
        ) < ctx.facts.region_line  # code after training still needs its own
        if before_training and (
            moved or (isinstance(small, cst.Expr) and is_mode_switch(ctx, small.value))
        ):
            edits.drop(statement)


def record_strategy(ctx: Ctx) -> None:
    if ctx.facts.data_parallel:
        ctx.mapped("nn.DataParallel", None, "removed: the Trainer places the model on its devices")
        ctx.warn(DATA_PARALLEL_NOTE, None)
    if not ctx.facts.distributed:
        return
    ctx.option("strategy", cst.SimpleString('"ddp"'), None)
    ctx.mapped(
        "distributed set-up (process group, sampler, DDP, spawn)", None, 'Trainer(strategy="ddp")'
    )
    ctx.warn(
        'removed the hand-written distributed set-up: Lightning\'s strategy="ddp" starts one process per device '
        "and wraps the model; choose how many with Trainer(devices=..., num_nodes=...) or PL_TRAINER_DEVICES",
        None,
    )
