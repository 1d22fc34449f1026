"""Find the shape of the training run: which loop walks the epochs, which the batches, and where it starts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import libcst as cst

from litgen.convert.names import call_name, code, dotted, usage
from litgen.convert.script import Script

Loop = cst.For | cst.While
LoopKind = Literal["count", "data"]
_PROGRESS_WRAPPERS = ("tqdm", "tqdm.tqdm", "tqdm.auto.tqdm", "tqdm.notebook.tqdm", "tqdm.rich.tqdm")


def unwrap_progress(script: Script, node: cst.BaseExpression) -> cst.BaseExpression:
    """`tqdm(loader, desc=...)` -> `loader`; progress bars are Lightning's job."""
    while (
        isinstance(node, cst.Call)
        and node.args
        and script.imports.qualify(node.func) in _PROGRESS_WRAPPERS
    ):
        node = node.args[0].value
    return node


def is_counting_iterable(script: Script, node: cst.BaseExpression) -> bool:
    """`range(E)`, `trange(E)`, `itertools.count()`: iterables that count epochs rather than yield data."""
    node = unwrap_progress(script, node)
    if not isinstance(node, cst.Call):
        return False
    qualified = script.imports.qualify(node.func)
    if qualified in ("range", "tqdm.trange", "tqdm.auto.trange", "trange"):
        return len(node.args) < 3  # range(0, N, batch_size) walks over batches
    return qualified in ("itertools.count",)


def loop_kind(script: Script, loop: Loop) -> LoopKind:
    if isinstance(loop, cst.While):
        return "count"
    return "count" if is_counting_iterable(script, loop.iter) else "data"


@dataclass
class Frame:
    """One function on the path from the script's entry down to `loss.backward()`."""

    function: cst.FunctionDef | None
    loops: list[Loop]
    call_into_inner: cst.Call | None = None


@dataclass
class Shape:
    entry: cst.FunctionDef | None
    region: cst.BaseStatement
    epoch_loop: Loop | None
    batch_loop: Loop | None
    backward: list[cst.Call] = field(default_factory=list)


class ShapeFinder:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.calls: dict[str, list[cst.Call]] = {}
        for call in script.nodes_of(cst.Call):
            name = call_name(call)
            if name is not None:
                self.calls.setdefault(name, []).append(call)

    def loops_above(self, node: cst.CSTNode) -> tuple[list[Loop], cst.FunctionDef | None]:
        loops: list[Loop] = []
        previous: cst.CSTNode = node
        for ancestor in self.script.ancestors(node):
            if isinstance(ancestor, (cst.For, cst.While)) and previous in (ancestor.body,):
                loops.append(ancestor)
            if isinstance(ancestor, cst.FunctionDef):
                return loops, ancestor
            previous = ancestor
        return loops, None

    def call_sites(self, function: cst.FunctionDef) -> list[cst.Call]:
        name = function.name.value
        in_class = self.script.enclosing_class(function) is not None
        sites = []
        for call in self.calls.get(name, []):
            if in_class and isinstance(call.func, cst.Attribute) and _may_call(call, function):
                sites.append(call)
            elif not in_class and isinstance(call.func, cst.Name):
                sites.append(call)
        # `optimizer.step(closure)` runs the closure (LBFGS)
        for call in self.calls.get("step", []):
            if any(isinstance(a.value, cst.Name) and a.value.value == name for a in call.args):
                sites.append(call)
        return sites

    def frames(self, start: cst.CSTNode) -> list[Frame]:
        frames: list[Frame] = []
        node: cst.CSTNode = start
        seen: set[int] = set()
        while True:
            loops, function = self.loops_above(node)
            frames.append(
                Frame(function, loops, node if isinstance(node, cst.Call) and frames else None)
            )
            if function is None or id(function) in seen:
                return frames
            seen.add(id(function))
            sites = self.call_sites(function)
            if not sites:
                return frames
            if len(sites) > 1:
                looped = [s for s in sites if self.loops_above(s)[0]]
                if len(looped) != 1:
                    lines = ", ".join(str(self.script.line(s)) for s in sites)
                    self.script.refuse(
                        f"{function.name.value}() trains the model and is called from several places (lines {lines});"
                        " litgen converts one training run per script",
                        function,
                    )
                sites = looped
            node = sites[0]

    def find(self) -> Shape:
        calls = self.script.backward
        shapes = [self._shape_for(call) for call in calls]
        first = shapes[0]
        for call, shape in zip(calls, shapes, strict=True):
            if (shape.region, shape.batch_loop) != (first.region, first.batch_loop):
                self.script.refuse(
                    "this script has two separate training loops (lines "
                    f"{self.script.line(calls[0])} and {self.script.line(call)}); litgen converts one training run",
                    call,
                )
        first.backward = calls
        return first

    def _shape_for(self, backward: cst.Call) -> Shape:
        frames = self.frames(backward)
        placed = [(loop, index) for index, frame in enumerate(frames) for loop in frame.loops]
        data = [(loop, i) for loop, i in placed if loop_kind(self.script, loop) == "data"]
        counting = [(loop, i) for loop, i in placed if loop_kind(self.script, loop) == "count"]
        if not placed:
            self.script.refuse(
                "loss.backward() is not inside any loop; there is no training loop to convert",
                backward,
            )
        while len(data) >= 2 and self._is_micro_step_loop(data[0], data[1]):
            # a loop over chunks of the batch is part of the step: it stays in the hook
            placed.remove(data[0])
            data = data[1:]
        if data:
            batch, batch_frame = data[0]
            outer = [(loop, i) for loop, i in placed[placed.index((batch, batch_frame)) + 1 :]]
        elif len(counting) >= 2:
            batch, batch_frame = counting[0]
            outer = placed[1:]
        else:
            batch, batch_frame = None, counting[0][1]
            outer = counting
        epoch, epoch_frame = (None, batch_frame)
        for loop, i in outer:
            if loop_kind(self.script, loop) == "count":
                epoch, epoch_frame = loop, i
                break
            if isinstance(loop, cst.For) and _names_phases(loop.iter):
                # `for phase in ["train", "val"]:` around one batch loop
                self.script.refuse(
                    "one batch loop serves several phases (the loop over "
                    f"{code(loop.iter)}); litgen converts a training loop and separate "
                    "evaluation loops: write the phases as loops of their own",
                    loop,
                )
            self.script.refuse(
                "the batch loop is nested inside another data loop (line "
                f"{self.script.line(loop)}); litgen converts one epoch loop around one batch loop",
                loop,
            )
        if epoch is not None:
            rest = outer[outer.index((epoch, epoch_frame)) + 1 :]
            if rest:
                self.script.refuse(
                    "the training loop is nested inside another loop (line "
                    f"{self.script.line(rest[0][0])}); litgen converts one training run per script",
                    rest[0][0],
                )
            entry_index = self._to_the_optimizer(frames, self._outside_methods(frames, epoch_frame))
            if entry_index == epoch_frame:
                return Shape(frames[epoch_frame].function, epoch, epoch, batch)
            call = frames[entry_index].call_into_inner
            assert call is not None
            return Shape(frames[entry_index].function, self.script.statement_of(call), epoch, batch)
        entry_index = self._entry_without_epochs(frames, batch_frame)
        entry = frames[entry_index]
        if entry_index == batch_frame:
            assert batch is not None
            region: cst.BaseStatement = batch
        else:
            inner_call = frames[entry_index].call_into_inner
            assert inner_call is not None
            region = self.script.statement_of(inner_call)
        return Shape(entry.function, region, None, batch)

    def _is_micro_step_loop(self, inner: tuple[Loop, int], outer: tuple[Loop, int]) -> bool:
        """Gradient accumulation over micro-batches: backward in the inner loop, the optimizer steps outside it."""
        if inner[1] != outer[1]:
            return False
        steps = [c for c in self.calls.get("step", []) if isinstance(c.func, cst.Attribute)]
        ancestry = [set(map(id, self.script.ancestors(call))) for call in steps]
        stepped_inside = any(id(inner[0]) in ids for ids in ancestry)
        stepped_around = any(id(outer[0]) in ids and id(inner[0]) not in ids for ids in ancestry)
        return stepped_around and not stepped_inside

    def _outside_methods(self, frames: list[Frame], index: int) -> int:
        """A loop in a method of a home-made trainer class is converted where that object is used."""
        while index + 1 < len(frames):
            function = frames[index].function
            if function is None or self.script.enclosing_class(function) is None:
                break
            index += 1
        return index

    def _to_the_optimizer(self, frames: list[Frame], index: int) -> int:
        """Up through the callers while the optimizer the loop steps is a parameter of the function
        (`train(model, loader, optimizer)` called from `main()`): train where it is created."""
        # optimizers: what the script zeroes, or a GradScaler steps (`scaler.step(optimizer)`)
        stepped = {
            name
            for call in self.calls.get("zero_grad", [])
            if isinstance(call.func, cst.Attribute) and (name := dotted(call.func.value))
        } | {
            name
            for call in self.calls.get("step", [])
            if call.args and (name := dotted(call.args[0].value))
        }
        steppers = {
            name
            for call in self.calls.get("step", [])
            if isinstance(call.func, cst.Attribute) and (name := dotted(call.func.value))
        }
        while index + 1 < len(frames):
            function, call = frames[index].function, frames[index + 1].call_into_inner
            if function is None or call is None:
                break
            params = [p.name.value for p in function.params.params]
            if self.script.enclosing_class(function) is not None:
                params = params[1:]  # `self` is the object the method is called on
            passed = {
                params[i] if arg.keyword is None else arg.keyword.value: dotted(arg.value)
                for i, arg in enumerate(call.args)
                if not arg.star and (arg.keyword is not None or i < len(params))
            }
            received = [passed.get(name) for name in stepped if name in params]
            # a GradScaler or scheduler the function makes itself would be lost up there
            makes_steppers = bool(usage([function.body]).assigned & steppers)
            if not any(received) or makes_steppers:
                break
            stepped = {name for name in received if name is not None}
            index += 1
        return index

    def _entry_without_epochs(self, frames: list[Frame], batch_frame: int) -> int:
        """Without an epoch loop, train where the script sets up: the outermost function (or the module)."""
        index = batch_frame
        for candidate in range(batch_frame + 1, len(frames)):
            frame = frames[candidate]
            if frame.function is None and self._is_main_guard_call(frame.call_into_inner):
                break
            index = candidate
        return index

    def _is_main_guard_call(self, call: cst.Call | None) -> bool:
        if call is None:
            return True
        statement = self.script.statement_of(call)
        return (
            isinstance(statement, cst.SimpleStatementLine)
            and len(statement.body) == 1
            and isinstance(statement.body[0], cst.Expr)
            and statement.body[0].value is call
        ) or dotted(call.func) == "main"


def _names_phases(iterated: cst.BaseExpression) -> bool:
    """`["train", "val"]`: what a loop over phases iterates, a literal list of names."""
    return (
        isinstance(iterated, (cst.List, cst.Tuple))
        and bool(iterated.elements)
        and all(isinstance(element.value, cst.SimpleString) for element in iterated.elements)
    )


def _may_call(call: cst.Call, method: cst.FunctionDef) -> bool:
    """Whether `x.name(...)` can be a call of the class's METHOD: not `self.model.train()` (a member
    object's own method), not with fewer arguments than the method requires (`model.train()`)."""
    assert isinstance(call.func, cst.Attribute)
    receiver = call.func.value
    if isinstance(receiver, cst.Attribute) and dotted(receiver) is not None:
        if (dotted(receiver) or "").startswith("self."):
            return False
    required = [p for p in method.params.params[1:] if p.default is None]
    return any(a.star for a in call.args) or len(call.args) >= len(required)
