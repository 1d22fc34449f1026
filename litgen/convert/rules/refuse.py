"""Constructs Lightning cannot express: refused up front with the reason and the line."""

from __future__ import annotations

import libcst as cst

from litgen.convert.names import call_name, dotted, target_names, usage
from litgen.convert.script import Script

_DETACHERS = ("detach", "repackage_hidden", "detach_hidden", "repackage")


class _Finder(cst.CSTVisitor):
    def __init__(self) -> None:
        self.share_memory: list[cst.Call] = []
        self.processes: list[cst.Call] = []
        self.loops: list[cst.For] = []

    def visit_Call(self, node: cst.Call) -> None:
        if call_name(node) == "share_memory":
            self.share_memory.append(node)
        if (dotted(node.func) or "").endswith("Process") and any(
            a.keyword and a.keyword.value == "target" for a in node.args
        ):
            self.processes.append(node)

    def visit_For(self, node: cst.For) -> None:
        self.loops.append(node)


def check_refusals(script: Script) -> None:
    finder = _Finder()
    for node in script.nodes:
        if isinstance(node, cst.Call):
            finder.visit_Call(node)
        elif isinstance(node, cst.For):
            finder.visit_For(node)
    if finder.share_memory:
        script.refuse(
            "Hogwild-style training (`share_memory()` with worker processes) cannot be expressed with a Lightning "
            "Trainer; keep this script as it is",
            finder.share_memory[0],
        )
    if finder.processes and script.backward:
        script.refuse(
            "training runs in hand-made worker processes (multiprocessing.Process); Lightning launches its own "
            'processes (strategy="ddp") and cannot take these over',
            finder.processes[0],
        )
    trained = {id(a) for call in script.backward for a in script.ancestors(call)}
    for loop in finder.loops:
        if id(loop) in trained:
            _check_carried_state(script, loop)


def _check_carried_state(script: Script, loop: cst.For) -> None:
    """Truncated BPTT: a hidden state fed back into the model batch after batch."""
    body = usage([loop.body])
    carried = (set(body.free) & body.assigned) - set(target_names(loop.target))
    if not carried:
        return
    for statement in _assignments(loop.body):
        targets = {n for t in statement.targets for n in target_names(t.target)}
        value = statement.value
        fed_back = targets & carried & set(usage([value]).read)
        if not fed_back or not isinstance(
            value, (cst.Call, cst.Tuple, cst.GeneratorExp, cst.ListComp)
        ):
            continue
        name = sorted(fed_back)[0]
        tuple_form = len(targets) > 1 and isinstance(value, cst.Call)
        detached = (
            any(d in (dotted(value.func) or call_name(value) or "") for d in _DETACHERS)
            if isinstance(value, cst.Call)
            else "detach" in cst.Module([]).code_for_node(value)
        )
        if tuple_form or detached:
            script.refuse(
                f"truncated backpropagation through time: the hidden state `{name}` is carried from one batch to "
                "the next; Lightning 2 has no truncated-BPTT support, so this loop cannot be converted faithfully",
                statement,
            )


def _assignments(node: cst.CSTNode) -> list[cst.Assign]:
    found: list[cst.Assign] = []

    class _Visitor(cst.CSTVisitor):
        def visit_Assign(self, assign: cst.Assign) -> None:
            found.append(assign)

        def visit_FunctionDef(self, function: cst.FunctionDef) -> bool:
            return False

    node.visit(_Visitor())
    return found
