"""Name helpers: dotted names, import aliases, and which variables a piece of code reads and writes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

import libcst as cst

from litgen.convert.symbols import Symbols
from litgen.cst_walk import holds_statements, walk


def dotted(node: cst.CSTNode | None) -> str | None:
    """`torch.nn.Linear` -> "torch.nn.Linear"; None for anything that is not a plain name chain."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr.value}" if base is not None else None
    return None


def root_name(node: cst.CSTNode | None) -> str | None:
    """The variable an expression is built on: `batch["x"].float()` -> "batch"."""
    while node is not None:
        if isinstance(node, cst.Name):
            return node.value
        if isinstance(node, cst.Attribute):
            node = node.value
        elif isinstance(node, cst.Subscript):
            node = node.value
        elif isinstance(node, cst.Call):
            node = node.func
        else:
            return None
    return None


def call_name(node: cst.CSTNode | None) -> str | None:
    """For `a.b.c(...)` the method name "c"; for `f(...)` "f"."""
    if isinstance(node, cst.Call):
        if isinstance(node.func, cst.Attribute):
            return node.func.attr.value
        if isinstance(node.func, cst.Name):
            return node.func.value
    return None


def taken_names(nodes: Iterable[cst.CSTNode], symbols: Symbols) -> set[str]:
    """Every name read or written in `nodes`, stand-ins by their readable names: what a fresh name must avoid."""
    found = usage(nodes)
    return {symbols.readable(n) for n in found.read | found.assigned}


def fresh_name(name: str, taken: set[str], separator: str = "") -> str:
    """`name`, or `name2`, `name3`... (with `separator` before the number): the first not in TAKEN, now taken."""
    candidate, number = name, 1
    while candidate in taken:
        number += 1
        candidate = f"{name}{separator}{number}"
    taken.add(candidate)
    return candidate


def code(node: cst.CSTNode) -> str:
    return cst.Module(body=[]).code_for_node(node)


def block_statements(suite: cst.BaseSuite) -> list[cst.BaseStatement]:
    """The statements of a block; a one-line suite (`for x in y: f(x)`) as one statement line."""
    if isinstance(suite, cst.IndentedBlock):
        return list(suite.body)
    assert isinstance(suite, cst.SimpleStatementSuite)
    return [cst.SimpleStatementLine(body=list(suite.body))]


def leading_lines(node: cst.CSTNode) -> Sequence[cst.EmptyLine]:
    """The comments and blank lines above a statement (libcst types them per statement class)."""
    lines: Sequence[cst.EmptyLine] = getattr(node, "leading_lines", ())
    return lines


class HasImports(Protocol):
    """Anything that knows the script's imports (the script itself, or a conversion context)."""

    @property
    def imports(self) -> ImportTable: ...


class ImportTable:
    """Maps local aliases to full module paths, so `optim.SGD` and `SGD` both read as `torch.optim.SGD`."""

    def __init__(self, module: cst.Module, nodes: Iterable[cst.CSTNode] | None = None) -> None:
        self.aliases: dict[str, str] = {}
        self.modules: set[str] = set()
        collector = _ImportCollector(self)
        if nodes is not None:  # an existing walk of the whole tree
            for node in nodes:
                if isinstance(node, cst.Import):
                    collector.visit_Import(node)
                elif isinstance(node, cst.ImportFrom):
                    collector.visit_ImportFrom(node)
            return
        for node in walk(module, enter=holds_statements):
            if isinstance(node, cst.Import):
                collector.visit_Import(node)
            elif isinstance(node, cst.ImportFrom):
                collector.visit_ImportFrom(node)

    def qualify(self, node: cst.CSTNode | None) -> str | None:
        name = dotted(node)
        if name is None:
            return None
        head, _, rest = name.partition(".")
        full = self.aliases.get(head)
        if full is None:
            return name
        return f"{full}.{rest}" if rest else full

    def is_(self, node: cst.CSTNode | None, *qualified: str) -> bool:
        return self.qualify(node) in qualified

    def starts(self, node: cst.CSTNode | None, *prefixes: str) -> bool:
        name = self.qualify(node)
        return name is not None and any(name == p or name.startswith(p + ".") for p in prefixes)


def as_name(alias: cst.ImportAlias) -> str | None:
    """The `as` name of an import alias (`import numpy as np` -> "np"), None without one."""
    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
        return alias.asname.name.value
    return None


class _ImportCollector(cst.CSTVisitor):
    def __init__(self, table: ImportTable) -> None:
        self.table = table

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            full = dotted(alias.name) or ""
            self.table.modules.add(full)
            asname = as_name(alias)
            if asname is not None:
                self.table.aliases[asname] = full
            else:
                head = full.split(".")[0]
                self.table.aliases.setdefault(head, head)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if node.relative or node.module is None or isinstance(node.names, cst.ImportStar):
            return
        base = dotted(node.module) or ""
        self.table.modules.add(base)
        for alias in node.names:
            name = dotted(alias.name) or ""
            local = as_name(alias) or name
            self.table.aliases[local] = f"{base}.{name}"


@dataclass
class Usage:
    """Variables of a code block: `free` are read before any write (in order), `assigned` are written."""

    free: list[str] = field(default_factory=list)
    assigned: set[str] = field(default_factory=set)
    read: set[str] = field(default_factory=set)

    def _read(self, name: str, bound: set[str]) -> None:
        self.read.add(name)
        if name not in bound and name not in self.free:
            self.free.append(name)


def usage(nodes: Iterable[cst.CSTNode]) -> Usage:
    """Read/write analysis of statements or expressions, aware of comprehension and function scopes."""
    result = Usage()
    bound: set[str] = set()
    for node in nodes:
        _walk(node, result, bound)
    return result


def target_names(target: cst.CSTNode) -> list[str]:
    """Names bound by an assignment target (`a, (b, c)` -> a, b, c); attributes and subscripts bind none."""
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [n for element in target.elements for n in target_names(element.value)]
    if isinstance(target, cst.StarredElement):
        return target_names(target.value)
    return []


def bound_values(
    target: cst.BaseExpression, value: cst.BaseExpression
) -> list[tuple[str, cst.BaseExpression]]:
    """Each name an assignment binds, with the expression it gets.

    `a, (b, c) = x, (y, z)` pairs element by element; where the shapes differ (`a, b = f()`) every
    name gets the whole value.
    """
    if isinstance(target, cst.Name):
        return [(target.value, value)]
    if (
        isinstance(target, (cst.Tuple, cst.List))
        and isinstance(value, (cst.Tuple, cst.List))
        and len(target.elements) == len(value.elements)
    ):
        return [
            pair
            for t, v in zip(target.elements, value.elements, strict=True)
            for pair in bound_values(t.value, v.value)
        ]
    return [(name, value) for name in target_names(target)]


def _bind(target: cst.CSTNode, result: Usage, bound: set[str]) -> None:
    names = target_names(target)
    if not names and not isinstance(target, cst.Name):
        _walk(target, result, bound)  # `x.attr = ...` and `x[i] = ...` read x
    for name in names:
        bound.add(name)
        result.assigned.add(name)


def _walk(node: cst.CSTNode, result: Usage, bound: set[str]) -> None:
    if isinstance(node, cst.Name):
        result._read(node.value, bound)
    elif isinstance(node, cst.Attribute):
        _walk(node.value, result, bound)
    elif isinstance(node, cst.Assign):
        _walk(node.value, result, bound)
        for target in node.targets:
            _bind(target.target, result, bound)
    elif isinstance(node, cst.AugAssign):
        _walk(node.target, result, bound)
        _walk(node.value, result, bound)
        _bind(node.target, result, bound)
    elif isinstance(node, cst.AnnAssign):
        if node.value is not None:
            _walk(node.value, result, bound)
            _bind(node.target, result, bound)
    elif isinstance(node, cst.NamedExpr):
        _walk(node.value, result, bound)
        _bind(node.target, result, bound)
    elif isinstance(node, cst.If):
        # a name is only surely assigned after an `if` when every branch assigns it
        _walk(node.test, result, bound)
        taken, skipped = set(bound), set(bound)
        _walk(node.body, result, taken)
        if node.orelse is not None:
            _walk(
                node.orelse.body if isinstance(node.orelse, cst.Else) else node.orelse,
                result,
                skipped,
            )
        bound |= taken & skipped
    elif isinstance(node, (cst.For, cst.While)):
        # the body may run zero times: what it assigns is not surely assigned afterwards
        inner = set(bound)
        if isinstance(node, cst.For):
            _walk(node.iter, result, bound)
            _bind(node.target, result, inner)
        else:
            _walk(node.test, result, bound)
        _walk(node.body, result, inner)
        if node.orelse is not None:
            _walk(node.orelse, result, set(bound))
    elif isinstance(node, cst.WithItem):
        _walk(node.item, result, bound)
        if node.asname is not None:
            _bind(node.asname.name, result, bound)
    elif isinstance(node, cst.ExceptHandler):
        if node.type is not None:
            _walk(node.type, result, bound)
        if node.name is not None:
            _bind(node.name.name, result, bound)
        _walk(node.body, result, bound)
    elif isinstance(node, (cst.Import, cst.ImportFrom)):
        _bind_imports(node, result, bound)
    elif isinstance(node, (cst.FunctionDef, cst.ClassDef)):
        _walk_definition(node, result, bound)
    elif isinstance(node, cst.Lambda):
        inner = set(bound) | {p.name.value for p in _all_params(node.params)}
        _walk(node.body, result, inner)
    elif isinstance(node, (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)):
        _walk_comprehension(node, result, bound)
    elif isinstance(node, (cst.Global, cst.Nonlocal)):
        return
    elif isinstance(node, cst.Arg):
        _walk(node.value, result, bound)
    elif isinstance(node, cst.Annotation):
        return
    else:
        for child in node.children:
            _walk(child, result, bound)


def _bind_imports(node: cst.Import | cst.ImportFrom, result: Usage, bound: set[str]) -> None:
    if isinstance(node.names, cst.ImportStar):
        return
    for alias in node.names:
        if alias.asname is not None:
            _bind(alias.asname.name, result, bound)
        else:
            name = dotted(alias.name) or ""
            bound.add(name.split(".")[0])
            result.assigned.add(name.split(".")[0])


def _all_params(params: cst.Parameters) -> list[cst.Param]:
    found = [*params.posonly_params, *params.params, *params.kwonly_params]
    for star in (params.star_arg, params.star_kwarg):
        if isinstance(star, cst.Param):
            found.append(star)
    return found


def _walk_definition(node: cst.FunctionDef | cst.ClassDef, result: Usage, bound: set[str]) -> None:
    for decorator in node.decorators:
        _walk(decorator.decorator, result, bound)
    inner = set(bound)
    if isinstance(node, cst.FunctionDef):
        for param in _all_params(node.params):
            if param.default is not None:
                _walk(param.default, result, bound)
            inner.add(param.name.value)
        inner |= local_names(node)
    body_usage = Usage()
    _walk(node.body, body_usage, inner)
    for name in body_usage.free:  # a nested function reads the enclosing variables it does not bind
        result._read(name, bound)
    bound.add(node.name.value)
    result.assigned.add(node.name.value)


@lru_cache(maxsize=512)
def local_names(function: cst.FunctionDef) -> frozenset[str]:
    """Names a function binds in its own scope (its parameters excluded), honouring global/nonlocal."""
    declared_outer: set[str] = set()
    collector = Usage()
    for statement in _body_statements(function):
        if isinstance(statement, (cst.Global, cst.Nonlocal)):
            declared_outer |= {n.name.value for n in statement.names}
    _walk(function.body, collector, set())
    return frozenset(collector.assigned - declared_outer)


def _body_statements(function: cst.FunctionDef) -> Iterable[cst.CSTNode]:
    stack: list[cst.CSTNode] = [function.body]
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)) and node is not function:
            continue
        yield node
        stack.extend(node.children)


def _walk_comprehension(
    node: cst.ListComp | cst.SetComp | cst.GeneratorExp | cst.DictComp,
    result: Usage,
    bound: set[str],
) -> None:
    inner = set(bound)
    comp: cst.CompFor | None = node.for_in
    first = True
    while comp is not None:
        _walk(comp.iter, result, bound if first else inner)
        inner |= set(target_names(comp.target))
        for condition in comp.ifs:
            _walk(condition.test, result, inner)
        comp, first = comp.inner_for_in, False
    elements: Sequence[cst.CSTNode] = (
        [node.key, node.value] if isinstance(node, cst.DictComp) else [node.elt]
    )
    for element in elements:
        _walk(element, result, inner)
