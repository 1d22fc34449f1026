"""Parse a script once and index what the analysis keeps asking about: defs, classes, parents, lines."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import NoReturn, TypeVar

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from litgen.convert.names import ImportTable, call_name, dotted
from litgen.convert.substitute import LineTable
from litgen.errors import ConversionError

NodeT = TypeVar("NodeT", bound=cst.CSTNode)
LIGHTNING_PACKAGES = ("lightning", "pytorch_lightning", "lightning_fabric")
MODULE_BASES = (
    "torch.nn.Module",
    "torch.nn.modules.module.Module",
    "torch.nn.Sequential",
    "torch.nn.ModuleList",
)


def parse(source: str, filename: str) -> cst.Module:
    """Parse with libcst; a syntax error becomes a one-line ConversionError naming its line."""
    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError as error:
        reason, line = _syntax_reason(source, filename)
        raise ConversionError(reason, path=filename, line=line or error.raw_line) from None
    except RecursionError:
        raise ConversionError(
            "the file nests too deeply for the Python parser", path=filename
        ) from None
    except Exception:  # the native parser reports a few oddities (e.g. bad escapes) as plain errors
        reason, line = _syntax_reason(source, filename)
        raise ConversionError(reason, path=filename, line=line) from None


def _syntax_reason(source: str, filename: str) -> tuple[str, int | None]:
    """Python's own wording and line for the error when it has one (clearer than the parser's)."""
    try:
        compile(source, filename, "exec", dont_inherit=True)
    except SyntaxError as error:
        return f"not valid Python: {error.msg}", error.lineno
    except (ValueError, RecursionError, MemoryError):
        return "not valid Python", None
    return "not valid Python 3 syntax for the libcst parser", None


def lightning_import(imports: ImportTable) -> str | None:
    """The Lightning package a script already imports, if any."""
    for module in sorted(imports.modules):
        if module.split(".")[0] in LIGHTNING_PACKAGES:
            return module
    return None


def iter_nodes(root: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Every node under `root`, depth first in source order, without recursion (strings can nest deeply)."""
    stack: list[cst.CSTNode] = [root]
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
            stack.extend(reversed(node.children))


@dataclass
class Tree:
    """All nodes of a module in source order and each node's parent, from one walk."""

    nodes: list[cst.CSTNode]
    parents: dict[cst.CSTNode, cst.CSTNode]

    @classmethod
    def walk(cls, module: cst.Module) -> Tree:
        nodes: list[cst.CSTNode] = []
        parents: dict[cst.CSTNode, cst.CSTNode] = {}
        stack: list[cst.CSTNode] = [module]
        while stack:  # iterative: long implicit string concatenations nest too deep for recursion
            node = stack.pop()
            nodes.append(node)
            children = node.children
            for child in children:
                parents[child] = node
            stack.extend(reversed(children))
        return cls(nodes, parents)

    def backward_calls(self) -> list[cst.Call]:
        return [node for node in self.nodes if isinstance(node, cst.Call) and _is_backward(node)]


def _is_backward(node: cst.Call) -> bool:
    return call_name(node) == "backward" or dotted(node.func) in (
        "torch.autograd.backward",
        "autograd.backward",
    )


def backward_calls(module: cst.CSTNode) -> list[cst.Call]:
    return [
        node for node in iter_nodes(module) if isinstance(node, cst.Call) and _is_backward(node)
    ]


@dataclass
class Script:
    """A parsed script with the indexes the analysis needs."""

    filename: str
    source: str
    module: cst.Module
    imports: ImportTable
    lines: LineTable
    parents: Mapping[cst.CSTNode, cst.CSTNode]
    positions: Mapping[cst.CSTNode, CodeRange] = field(default_factory=dict)
    functions: dict[str, cst.FunctionDef] = field(default_factory=dict)
    classes: dict[str, cst.ClassDef] = field(default_factory=dict)
    module_classes: set[str] = field(default_factory=set)
    _all_names: set[str] | None = None
    _nodes: list[cst.CSTNode] | None = None
    _backward: list[cst.Call] | None = None
    _nested: dict[int, dict[str, cst.FunctionDef]] = field(default_factory=dict)
    _by_kind: dict[type, list[cst.CSTNode]] = field(default_factory=dict)

    @classmethod
    def build(
        cls, source: str, filename: str, module: cst.Module, imports: ImportTable, tree: Tree
    ) -> Script:
        positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
        script = cls(
            filename, source, module, imports, LineTable(positions), tree.parents, positions
        )
        script._nodes = tree.nodes
        for statement in module.body:
            if isinstance(statement, cst.FunctionDef):
                script.functions[statement.name.value] = statement
            elif isinstance(statement, cst.ClassDef):
                script.classes[statement.name.value] = statement
        script._find_module_classes()
        return script

    def _find_module_classes(self) -> None:
        changed = True
        while changed:  # a class deriving from a user nn.Module is an nn.Module too
            changed = False
            for name, node in self.classes.items():
                if name in self.module_classes:
                    continue
                for base in node.bases:
                    qualified = self.imports.qualify(base.value)
                    if qualified in MODULE_BASES or (qualified in self.module_classes):
                        self.module_classes.add(name)
                        changed = True
                        break
                    if (
                        qualified is not None
                        and qualified.startswith("torch.nn.")
                        and qualified[9:10].isupper()
                    ):
                        self.module_classes.add(name)
                        changed = True
                        break

    @property
    def nodes(self) -> list[cst.CSTNode]:
        """Every node of the module, in source order (walked once, then shared by all recognizers)."""
        if self._nodes is None:
            self._nodes = list(iter_nodes(self.module))
        return self._nodes

    def nodes_of(self, kind: type[NodeT]) -> list[NodeT]:
        found = self._by_kind.get(kind)
        if found is None:  # asked for a few kinds, many times: one scan per kind
            found = self._by_kind[kind] = [node for node in self.nodes if isinstance(node, kind)]
        return list(found)  # type: ignore[arg-type]

    @property
    def all_names(self) -> set[str]:
        """Every identifier written anywhere in the script: what a new name must not collide with."""
        if self._all_names is None:
            self._all_names = {node.value for node in self.nodes_of(cst.Name)}
        return self._all_names

    @property
    def backward(self) -> list[cst.Call]:
        if self._backward is None:
            self._backward = [node for node in self.nodes_of(cst.Call) if _is_backward(node)]
        return self._backward

    def line(self, node: cst.CSTNode | None) -> int | None:
        return self.lines.get(node)

    def end_line(self, node: cst.CSTNode) -> int:
        position = self.positions.get(node)
        return position.end.line if position is not None else 0

    def refuse(
        self, reason: str, node: cst.CSTNode | None = None, line: int | None = None
    ) -> NoReturn:
        raise ConversionError(
            reason, path=self.filename, line=line if line is not None else self.line(node)
        )

    def ancestors(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        current = self.parents.get(node)
        while current is not None:
            yield current
            current = self.parents.get(current)

    def enclosing_class(self, function: cst.FunctionDef) -> cst.ClassDef | None:
        for ancestor in self.ancestors(function):
            if isinstance(ancestor, cst.ClassDef):
                return ancestor
            if isinstance(ancestor, cst.FunctionDef):
                return None
        return None

    def statement_of(self, node: cst.CSTNode) -> cst.BaseStatement:
        """The statement (simple line or compound) that contains `node`."""
        current: cst.CSTNode = node
        while not isinstance(current, cst.BaseStatement):
            parent = self.parents.get(current)
            if parent is None:
                break
            current = parent
        assert isinstance(current, cst.BaseStatement)
        return current

    def nested_function(self, scope: cst.FunctionDef | None, name: str) -> cst.FunctionDef | None:
        """A def named `name` visible from `scope`: nested in it first, then at module level."""
        if scope is not None:
            nested = self._nested.get(id(scope))
            if nested is None:
                nested = {
                    s.name.value: s
                    for s in _walk_statements(scope.body)
                    if isinstance(s, cst.FunctionDef)
                }
                self._nested[id(scope)] = nested
            if name in nested:
                return nested[name]
        return self.functions.get(name)

    def scope_names(self, scope: cst.CSTNode) -> set[str]:
        """Identifiers used directly in a scope (module or function body), not inside nested defs."""
        names: set[str] = set()
        stack: list[cst.CSTNode] = [scope]
        while stack:
            node = stack.pop()
            if isinstance(node, cst.Name):
                names.add(node.value)
            elif isinstance(node, (cst.FunctionDef, cst.ClassDef)) and node is not scope:
                names.add(node.name.value)
            elif isinstance(node, cst.Attribute):
                stack.append(node.value)  # `x.attr` uses x, not a variable named attr
            elif isinstance(node, cst.Arg):
                stack.append(node.value)
            elif not isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
                stack.extend(node.children)
        return names


def _walk_statements(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Statements under `node`, not descending into nested defs or classes."""
    for child in node.children:
        if isinstance(child, cst.BaseStatement):
            yield child
        if not isinstance(child, (cst.FunctionDef, cst.ClassDef, cst.BaseExpression)):
            yield from _walk_statements(child)


def walk_statements(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    return _walk_statements(node)
