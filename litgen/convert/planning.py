"""Stage 2, `plan`: decide every hook, name, constructor argument and script edit; build no module yet."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from litgen.convert.analysis import Analysis
from litgen.convert.context import Ctx
from litgen.convert.epoch import EpochPlanner
from litgen.convert.facts import learn_binding
from litgen.convert.inline import Flattener
from litgen.convert.instances import unroll_instances
from litgen.convert.names import fresh_name, usage
from litgen.convert.plan import ModulePlan, Names
from litgen.convert.rebuild import Rebuilt, rebuild
from litgen.convert.rebuild_scope import rebuild_scope
from litgen.convert.render import Layout, Renderer
from litgen.convert.rewrite import Edits
from litgen.convert.rules.flags import record_cpu_flag
from litgen.convert.script import walk_statements
from litgen.convert.setup import plan_setup, record_strategy
from litgen.convert.tensors import buffer_names


@dataclass(frozen=True)
class ConversionPlan:
    """Everything emission needs, decided: the hooks, where each name lives, the generated names, the
    edits to the script's own statements (the loop and a test block are `reserved` for emission to
    fill), and what may go once nothing reads it. `ctx` holds the notes for the report."""

    analysis: Analysis
    ctx: Ctx
    module: ModulePlan
    renderer: Renderer
    layout: Layout
    rebuilt: Rebuilt
    names: Names
    hoisted: tuple[
        cst.BaseStatement, ...
    ]  # arguments evaluated once before training (`criterion = nn.L1Loss()`)
    edits: Edits
    inlined: tuple[
        cst.FunctionDef | cst.ClassDef, ...
    ]  # helper functions and trainer classes whose code moved into hooks
    removable_functions: frozenset[str]  # removed from the output if nothing reads them any more
    removable_names: frozenset[str]


def plan(analysis: Analysis) -> ConversionPlan:
    """Plan the conversion of one analysed script; raises ConversionError for what cannot convert."""
    script, shape = analysis.script, analysis.shape
    # what planning learns from inlined helpers goes here, not into the analysis
    facts = analysis.facts.derived()
    ctx = Ctx(script, facts)
    for line, construct, target in analysis.desugared:
        ctx.mapped(construct, line, target)
    flattener = Flattener(ctx, shape)
    planner = EpochPlanner(ctx, flattener, shape)
    module = planner.run()
    for (
        statement
    ) in flattener.hoisted:  # new variables of the entry scope, bound just before the loop
        learn_binding(script, facts, statement, facts.region_line - 1)
    planner.plan_test(_following_statements(analysis))
    record_cpu_flag(ctx)
    record_strategy(ctx)
    consumed = set(module.test.replaced) if module.test else set()
    after = after_region(analysis)
    after_reads = set(usage([s for s in after if s not in consumed]).read)
    renderer = Renderer(ctx, module, shape.entry is None, after_reads)
    layout = renderer.analyze()
    scope = rebuild_scope(ctx, shape, module, layout, flattener, renderer)
    rebuilt = rebuild(ctx, module.optimizers, ctx.schedules, scope, module.manual)
    renderer.use_rebuilt(rebuilt)
    hook_statements = [statement for method in module.ordered() for statement in method.body]
    readers = [*layout.ctor, *renderer.globals_read()]
    renderer.adopt_buffers(buffer_names(ctx.imports, facts, readers, layout.state, hook_statements))
    if rebuilt.reason:
        ctx.warn(
            f"the module is handed the optimizer the script built: {rebuilt.reason}",
            None,
            at="configure_optimizers",
        )
    names = _names(ctx, set(flattener.instances))
    edits = Edits()
    edits.reserve(shape.region)
    if module.test is not None:
        edits.reserve(module.test.replaced[0])
        for statement in module.test.replaced[1:]:
            edits.drop(statement)
        ctx.mapped("evaluation after training", module.test.line, f"{names.trainer}.test(...)")
    plan_setup(ctx, shape, edits, names.lightning, names.trainer)
    unroll_instances(ctx, flattener.instances, edits, names.trainer, after)
    inlined: tuple[cst.FunctionDef | cst.ClassDef, ...] = (
        *flattener.inlined,
        *flattener.classes_inlined,
    )
    functions = {f.name.value for f in inlined} | facts.plumbing
    removable = set(facts.devices) | set(facts.scalers) | set(facts.ranks) | set(rebuilt.objects)
    return ConversionPlan(
        analysis,
        ctx,
        module,
        renderer,
        layout,
        rebuilt,
        names,
        tuple(flattener.hoisted),
        edits,
        inlined,
        frozenset(functions),
        frozenset(removable),
    )


def _block_of(analysis: Analysis, node: cst.CSTNode) -> list[cst.BaseStatement]:
    parent = analysis.script.parents.get(node)
    return list(parent.body) if isinstance(parent, (cst.IndentedBlock, cst.Module)) else []


def _following_statements(analysis: Analysis) -> list[cst.BaseStatement]:
    """The statements after the training loop in its own block (where a test block would be)."""
    region = analysis.shape.region
    block = _block_of(analysis, region)
    index = next(i for i, s in enumerate(block) if s is region)
    return block[index + 1 :]


def after_region(analysis: Analysis) -> list[cst.BaseStatement]:
    """Outermost statements that run after the training loop in the entry scope."""
    script, shape = analysis.script, analysis.shape
    region_end = script.end_line(shape.region)
    scope = shape.entry.body if shape.entry is not None else script.module
    statements = [s for s in walk_statements(scope) if isinstance(s, cst.BaseStatement)]
    later = [s for s in statements if (script.line(s) or 0) > region_end]
    return [s for s in later if not any(a in later for a in script.ancestors(s))]


def _names(ctx: Ctx, instances: set[str]) -> Names:
    taken = set(ctx.script.all_names) - instances
    lightning = (
        "L" if "L" not in taken else "lightning" if "lightning" not in taken else "lightning_"
    )
    model_class = "Model"
    for model in ctx.facts.models[:1]:
        binding = ctx.facts.last(model)
        value = binding.value if binding else None
        while isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute):
            value = value.func.value
        if (
            isinstance(value, cst.Call)
            and isinstance(value.func, cst.Name)
            and value.func.value[:1].isupper()
        ):
            # a class; a factory function (`build_model()`) names nothing
            model_class = value.func.value
    if len(ctx.facts.models) > 1:
        model_class = "Module"
    module_class = fresh_name(f"Lit{model_class}", taken)
    instance = fresh_name("lit_model", taken)
    trainer = fresh_name("trainer", taken)
    return Names(lightning, module_class, instance, trainer)
