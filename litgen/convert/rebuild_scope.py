"""What `configure_optimizers` may refer to when it rebuilds the script's objects (the rebuild's `Scope`).

The module's attributes for models, the constructor arguments and state of the hooks, defaults of
the entry function, and where the script reads its optimizers outside the training loop (a read
there means the module must be handed the script's own object).
"""

from __future__ import annotations

from collections.abc import Mapping

import libcst as cst

from litgen.convert.context import Ctx
from litgen.convert.inline import Flattener
from litgen.convert.names import _all_params, code, local_names, root_name
from litgen.convert.plan import ModulePlan
from litgen.convert.rebuild import Scope
from litgen.convert.render import Layout, Renderer
from litgen.convert.structure import Shape


def rebuild_scope(
    ctx: Ctx,
    shape: Shape,
    plan: ModulePlan,
    layout: Layout,
    flattener: Flattener,
    renderer: Renderer,
) -> Scope:
    """What configure_optimizers may refer to, and where the script reads its optimizers outside the loop."""
    facts, script = ctx.facts, ctx.script
    candidates = set(facts.optimizers) | set(facts.schedulers)
    own = {id(b.statement) for name in candidates for b in facts.bindings.get(name, [])}
    skipped = {id(node) for node in [shape.region, *flattener.inlined, *flattener.classes_inlined]}
    skipped |= {id(instance.statement) for instance in flattener.instances.values()}
    skipped |= own
    reads: dict[str, int] = {}
    for node in script.nodes_of(cst.Name):
        if node.value not in candidates or not _is_variable_read(node, script.parents):
            continue
        if any(
            id(a) in skipped or _binds_locally(a, node.value, shape) for a in script.ancestors(node)
        ):
            continue
        line = (
            script.line(
                next((a for a in script.ancestors(node) if isinstance(a, cst.BaseStatement)), node)
            )
            or 0
        )
        reads[node.value] = min(reads.get(node.value, line), line)
    defined = {
        s.name.value for s in script.module.body if isinstance(s, (cst.FunctionDef, cst.ClassDef))
    }
    defined |= set(ctx.imports.aliases)
    aliases = {
        name: root
        for name, value in facts.aliases.items()
        if (root := root_name(value)) is not None
    }
    defaults: dict[str, cst.BaseExpression] = {}
    if shape.entry is not None:
        defaults = {
            p.name.value: p.default for p in shape.entry.params.params if p.default is not None
        }
    steady = not {"accumulate_grad_batches", "limit_train_batches", "max_steps"} & {
        o.key for o in ctx.trainer
    }
    total_steps = None
    if (
        steady
        and plan.max_epochs is not None
        and plan.train_loader is not None
        and not plan.full_batch
    ):
        total_steps = (code(plan.max_epochs), code(plan.train_loader))
    hook_bodies = tuple(statement for method in plan.ordered() for statement in method.body)
    return Scope(
        dict(layout.attrs),
        tuple(layout.ctor),
        frozenset(layout.state),
        hook_bodies,
        tuple(renderer.globals_read()),
        frozenset(facts.modules),
        reads,
        frozenset(defined),
        aliases,
        defaults,
        total_steps,
    )


def _binds_locally(node: cst.CSTNode, name: str, shape: Shape) -> bool:
    """A helper function (not the entry point) whose own parameter or local is called `name`."""
    if not isinstance(node, cst.FunctionDef) or node is shape.entry:
        return False
    return name in {p.name.value for p in _all_params(node.params)} or name in local_names(node)


def _is_variable_read(node: cst.Name, parents: Mapping[cst.CSTNode, cst.CSTNode]) -> bool:
    """A Name that reads a variable: not an attribute, keyword, parameter, definition or assignment target."""
    parent = parents.get(node)
    if isinstance(parent, cst.Attribute) and parent.attr is node:
        return False
    if isinstance(parent, cst.Arg) and parent.keyword is node:
        return False
    if isinstance(parent, (cst.Param, cst.FunctionDef, cst.ClassDef, cst.ImportAlias, cst.AsName)):
        return False
    return not isinstance(parent, cst.AssignTarget)
