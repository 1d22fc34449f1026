"""Stage 3, `emit`: build the LightningModule and the Trainer section, apply the planned edits once."""

from __future__ import annotations

import warnings

import libcst as cst

from litgen.convert.emit import Emitter
from litgen.convert.imports import drop_imports_made_unused
from litgen.convert.planning import ConversionPlan
from litgen.convert.report import Conversion
from litgen.convert.rewrite import Edits, apply, remove_unused, unused
from litgen.convert.script import Script
from litgen.errors import InternalError


def emit(plan: ConversionPlan) -> Conversion:
    """The converted script for a plan: the only stage that builds the output module."""
    script, shape, ctx, names = plan.analysis.script, plan.analysis.shape, plan.ctx, plan.names
    emitter = Emitter(
        ctx,
        plan.module,
        plan.renderer,
        plan.layout,
        names,
        script.module.default_indent,
        plan.rebuilt,
    )
    class_node = emitter.module_class(script.filename.replace("\\", "/").rsplit("/", 1)[-1])
    edits = plan.edits.copy()
    edits.put(
        shape.region, [*plan.hoisted, *emitter.entry_statements(_indent_of(script, shape.region))]
    )
    if plan.module.test is not None:
        edits.put(plan.module.test.replaced[0], emitter.test_statements())
    new_module = apply(
        script.module,
        edits,
        _class_anchor(plan),
        class_node,
        _import_anchor(script),
        _import_line(names.lightning),
        touched=_touched(script, edits),
    )
    functions, removable = set(plan.removable_functions), set(plan.removable_names)
    entry = shape.entry.name.value if shape.entry is not None else None
    for _ in range(3):  # a scheduler that goes away stops keeping its optimizer alive
        gone_functions, gone_names = unused(
            new_module, functions, removable, names.module_class, entry
        )
        if not gone_functions and not gone_names:
            break
        new_module = remove_unused(new_module, gone_names, gone_functions, shape.entry)
        functions, removable = functions - gone_functions, removable - gone_names
        if not removable & set(plan.rebuilt.objects):
            break
    converted = drop_imports_made_unused(script.source, new_module)
    _check_compiles(converted, script.filename)
    return Conversion(
        script.filename,
        script.source,
        converted,
        module_class=names.module_class,
        mapping=ctx.mapping,
        warnings=ctx.warnings,
        refused=ctx.refused,
    )


def _touched(script: Script, edits: Edits) -> set[int]:
    """Ids of the nodes on the way from the module to each edited statement (only those are revisited)."""
    touched: set[int] = set()
    for node in [*edits.replace, *edits.remove]:
        touched.add(id(node))
        touched.update(id(a) for a in script.ancestors(node))
    return touched


def _indent_of(script: Script, node: cst.CSTNode) -> str:
    indent = ""
    for ancestor in script.ancestors(node):
        if isinstance(ancestor, cst.IndentedBlock):
            indent = (
                ancestor.indent if ancestor.indent is not None else script.module.default_indent
            ) + indent
    return indent


def _top_level(script: Script, node: cst.CSTNode) -> cst.CSTNode:
    current = node
    for ancestor in script.ancestors(node):
        if isinstance(ancestor, cst.Module):
            return current
        current = ancestor
    return current


def _class_anchor(plan: ConversionPlan) -> cst.CSTNode:
    """The class goes before the first helper it absorbed, else before the entry function or the loop."""
    script, shape = plan.analysis.script, plan.analysis.shape
    region_top = _top_level(script, shape.region)
    module_body: list[cst.CSTNode] = list(script.module.body)
    top_defs = [f for f in plan.inlined if f in module_body]
    if top_defs:
        return min(top_defs, key=module_body.index)
    if shape.entry is not None:
        return _top_level(script, shape.entry)
    index = module_body.index(region_top)
    for position in range(index - 1, -1, -1):
        if isinstance(module_body[position], (cst.FunctionDef, cst.ClassDef)):
            return module_body[position + 1]
    return region_top


def _import_anchor(script: Script) -> cst.CSTNode | None:
    """The last import of the script's leading import block (the Lightning import goes after it)."""
    last = None
    for statement in script.module.body:
        if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            break
        if isinstance(statement, cst.SimpleStatementLine) and any(
            isinstance(s, (cst.Import, cst.ImportFrom)) for s in statement.body
        ):
            last = statement
    return last


def _import_line(alias: str) -> cst.SimpleStatementLine:
    text = "import lightning\n" if alias == "lightning" else f"import lightning as {alias}\n"
    statement = cst.parse_statement(text)
    assert isinstance(statement, cst.SimpleStatementLine)
    return statement


def _check_compiles(converted: str, filename: str) -> None:
    try:
        # the script's own SyntaxWarnings are Python's to report, not ours
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(converted, filename, "exec")
    except SyntaxError as error:
        raise InternalError(
            f"internal error: litgen generated invalid code ({error.msg}, output line {error.lineno}); "
            "please report this script",
            path=filename,
        ) from None
