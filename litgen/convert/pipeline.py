"""`convert_source`: analyze (analysis.py) -> plan -> rewrite once -> emit, all in memory."""

from __future__ import annotations

import dataclasses
import warnings

import libcst as cst

from litgen.convert.analysis import AlreadyLightning, Analysis, analyze
from litgen.convert.context import Ctx
from litgen.convert.emit import Emitter, Names
from litgen.convert.epoch import EpochPlanner
from litgen.convert.facts import learn_binding
from litgen.convert.imports import drop_imports_made_unused
from litgen.convert.inline import Flattener
from litgen.convert.instances import unroll_instances
from litgen.convert.names import fresh_name, usage
from litgen.convert.rebuild import rebuild
from litgen.convert.rebuild_scope import rebuild_scope
from litgen.convert.render import Renderer
from litgen.convert.report import Conversion
from litgen.convert.rewrite import Edits, apply, remove_unused, unused
from litgen.convert.rules.flags import record_cpu_flag
from litgen.convert.setup import plan_setup, record_strategy
from litgen.convert.tensors import buffer_names
from litgen.errors import ConversionError


def convert_source(source: str, filename: str) -> Conversion:
    """Convert one script's text; raises ConversionError naming the line of anything it cannot convert."""
    try:
        return _convert(source, filename)
    except RecursionError:
        raise ConversionError("the code nests too deeply to be analysed", path=filename) from None


def _convert(source: str, filename: str) -> Conversion:
    analysis = analyze(source, filename)
    if isinstance(analysis, AlreadyLightning):
        return Conversion(filename, source, source, already_lightning=True, lightning_reason=f"it imports {analysis.package}")
    conversion = _Conversion(analysis).run()
    return dataclasses.replace(conversion, original=source)


class _Conversion:
    def __init__(self, analysis: Analysis) -> None:
        self.script = script = analysis.script
        self.shape = analysis.shape
        self.facts = analysis.facts.derived()  # what planning learns from inlined helpers goes here, not into the analysis
        self.ctx = Ctx(script, self.facts)
        for line, construct, target in analysis.desugared:
            self.ctx.mapped(construct, line, target)

    def run(self) -> Conversion:
        script, shape, ctx = self.script, self.shape, self.ctx
        flattener = Flattener(ctx, shape)
        self.instances = flattener.instances
        planner = EpochPlanner(ctx, flattener, shape)
        plan = self.plan = planner.run()
        self._register_hoisted(flattener)
        following = self._following_statements()
        planner.plan_test(following)
        record_cpu_flag(ctx)
        record_strategy(ctx)
        consumed = set(plan.test.replaced) if plan.test else set()
        after_reads = set(usage([s for s in self._after_region() if s not in consumed]).read)
        renderer = Renderer(ctx, plan, shape.entry is None, after_reads)
        layout = renderer.analyze()
        rebuilt = rebuild(ctx, plan.optimizers, ctx.schedules, rebuild_scope(ctx, self.shape, plan, layout, flattener, renderer), plan.manual)
        renderer.use_rebuilt(rebuilt)
        hook_statements = [statement for method in plan.ordered() for statement in method.body]
        readers = [*layout.ctor, *renderer.globals_read()]
        renderer.adopt_buffers(buffer_names(ctx.imports, ctx.facts, readers, layout.state, hook_statements))
        if rebuilt.reason:
            ctx.warn(f"the module is handed the optimizer the script built: {rebuilt.reason}", None, at="configure_optimizers")
        names = self._names()
        emitter = Emitter(ctx, plan, renderer, layout, names, script.module.default_indent, rebuilt)
        class_node = emitter.module_class(script.filename.replace("\\", "/").rsplit("/", 1)[-1])
        edits = Edits()
        edits.put(shape.region, [*flattener.hoisted, *emitter.entry_statements(self._indent_of(shape.region))])
        if plan.test is not None:
            edits.put(plan.test.replaced[0], emitter.test_statements())
            for statement in plan.test.replaced[1:]:
                edits.drop(statement)
            ctx.mapped("evaluation after training", plan.test.line, f"{names.trainer}.test(...)")
        plan_setup(ctx, shape, edits, names.lightning, names.trainer)
        unroll_instances(ctx, flattener.instances, edits, names.trainer, self._after_region())
        import_line = self._import_line(names.lightning)
        new_module = apply(
            script.module,
            edits,
            self._class_anchor(flattener),
            class_node,
            self._import_anchor(),
            import_line,
            touched=self._touched(edits),
        )
        removable = set(ctx.facts.devices) | set(ctx.facts.scalers) | set(ctx.facts.ranks) | set(rebuilt.objects)
        functions = {f.name.value for f in flattener.inlined} | {c.name.value for c in flattener.classes_inlined}
        functions |= ctx.facts.plumbing
        for _ in range(3):  # a scheduler that goes away stops keeping its optimizer alive
            entry = self.shape.entry.name.value if self.shape.entry is not None else None
            gone_functions, gone_names = unused(new_module, functions, removable, names.module_class, entry)
            if not gone_functions and not gone_names:
                break
            new_module = remove_unused(new_module, gone_names, gone_functions, self.shape.entry)
            functions, removable = functions - gone_functions, removable - gone_names
            if not removable & set(rebuilt.objects):
                break
        converted = drop_imports_made_unused(script.source, new_module)
        self._verify(converted)
        return Conversion(
            script.filename,
            script.source,
            converted,
            module_class=names.module_class,
            mapping=ctx.mapping,
            warnings=ctx.warnings,
            refused=ctx.refused,
        )

    def _register_hoisted(self, flattener: Flattener) -> None:
        """Arguments evaluated once before the loop are new variables of the entry scope."""
        for statement in flattener.hoisted:
            learn_binding(self.script, self.facts, statement, self.facts.region_line - 1)  # type: ignore[arg-type]

    def _touched(self, edits: Edits) -> set[int]:
        """Ids of the nodes on the way from the module to each edited statement (only those are revisited)."""
        touched: set[int] = set()
        for node in [*edits.replace, *edits.remove]:
            touched.add(id(node))
            touched.update(id(a) for a in self.script.ancestors(node))
        return touched

    # --- placement ----------------------------------------------------------------------------
    def _block_of(self, node: cst.CSTNode) -> list[cst.BaseStatement]:
        parent = self.script.parents.get(node)
        return list(parent.body) if isinstance(parent, (cst.IndentedBlock, cst.Module)) else []

    def _following_statements(self) -> list[cst.BaseStatement]:
        block = self._block_of(self.shape.region)
        index = next(i for i, s in enumerate(block) if s is self.shape.region)
        return block[index + 1 :]

    def _after_region(self) -> list[cst.BaseStatement]:
        """Outermost statements that run after the training loop in the entry scope."""
        region_end = self.script.end_line(self.shape.region)
        scope = self.shape.entry.body if self.shape.entry is not None else self.script.module
        later = [s for s in _top_statements(scope) if (self.script.line(s) or 0) > region_end]
        return [s for s in later if not any(a in later for a in self.script.ancestors(s))]

    def _indent_of(self, node: cst.CSTNode) -> str:
        indent = ""
        for ancestor in self.script.ancestors(node):
            if isinstance(ancestor, cst.IndentedBlock):
                indent = (ancestor.indent if ancestor.indent is not None else self.script.module.default_indent) + indent
        return indent

    def _top_level(self, node: cst.CSTNode) -> cst.CSTNode:
        current = node
        for ancestor in self.script.ancestors(node):
            if isinstance(ancestor, cst.Module):
                return current
            current = ancestor
        return current

    def _class_anchor(self, flattener: Flattener) -> cst.CSTNode:
        region_top = self._top_level(self.shape.region)
        module_body = list(self.script.module.body)
        top_defs = [f for f in [*flattener.inlined, *flattener.classes_inlined] if f in module_body]
        if top_defs:
            return min(top_defs, key=module_body.index)
        if self.shape.entry is not None:
            return self._top_level(self.shape.entry)
        index = module_body.index(region_top)
        for position in range(index - 1, -1, -1):
            if isinstance(module_body[position], (cst.FunctionDef, cst.ClassDef)):
                return module_body[position + 1]
        return region_top

    def _import_anchor(self) -> cst.CSTNode | None:
        last = None
        for statement in self.script.module.body:
            if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
                break
            if isinstance(statement, cst.SimpleStatementLine) and any(
                isinstance(s, (cst.Import, cst.ImportFrom)) for s in statement.body
            ):
                last = statement
        return last

    def _import_line(self, alias: str) -> cst.SimpleStatementLine:
        text = "import lightning\n" if alias == "lightning" else f"import lightning as {alias}\n"
        statement = cst.parse_statement(text)
        assert isinstance(statement, cst.SimpleStatementLine)
        return statement

    # --- naming -------------------------------------------------------------------------------
    def _names(self) -> Names:
        taken = set(self.script.all_names) - set(self.instances)
        lightning = "L" if "L" not in taken else "lightning" if "lightning" not in taken else "lightning_"
        model_class = "Model"
        for model in self.ctx.facts.models[:1]:
            binding = self.ctx.facts.last(model)
            value = binding.value if binding else None
            while isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute):
                value = value.func.value
            if isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value[:1].isupper():
                model_class = value.func.value  # a class; a factory function (`build_model()`) names nothing
        if len(self.ctx.facts.models) > 1:
            model_class = "Module"
        module_class = fresh_name(f"Lit{model_class}", taken)
        instance = fresh_name("lit_model", taken)
        trainer = fresh_name("trainer", taken)
        return Names(lightning, module_class, instance, trainer)

    def _verify(self, converted: str) -> None:
        try:
            with warnings.catch_warnings():  # the script's own SyntaxWarnings are Python's to report, not ours
                warnings.simplefilter("ignore")
                compile(converted, self.script.filename, "exec")
        except SyntaxError as error:
            raise ConversionError(
                f"internal error: litgen generated invalid code ({error.msg}, output line {error.lineno}); "
                "please report this script",
                path=self.script.filename,
            ) from None


def _top_statements(scope: cst.CSTNode) -> list[cst.BaseStatement]:
    from litgen.convert.script import walk_statements

    return [s for s in walk_statements(scope) if isinstance(s, cst.BaseStatement)]

