"""The steps' outputs, kept as 1.x kept them for `*_epoch_end(outputs)`: one stage per loop, and the
rewrite of a step so that it appends what it returns to the module's list."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst
import libcst.matchers as m

from litgen.convert.names import code
from litgen.cst_walk import find


@dataclass(frozen=True)
class Stage:
    epoch_end: str  # the 1.x hook
    hook: str  # the 2.x hook
    start: str  # the 2.x hook that opens the epoch (where the list of outputs is made)
    step: str
    step_end: str
    outputs: str  # the attribute that holds the step outputs

    @property
    def training(self) -> bool:
        return self.step == "training_step"


STAGES = (
    Stage(
        "training_epoch_end",
        "on_train_epoch_end",
        "on_train_epoch_start",
        "training_step",
        "training_step_end",
        "training_step_outputs",
    ),
    Stage(
        "validation_epoch_end",
        "on_validation_epoch_end",
        "on_validation_epoch_start",
        "validation_step",
        "validation_step_end",
        "validation_step_outputs",
    ),
    Stage(
        "test_epoch_end",
        "on_test_epoch_end",
        "on_test_epoch_start",
        "test_step",
        "test_step_end",
        "test_step_outputs",
    ),
)


class Returns(cst.CSTTransformer):
    """Rewrites each `return VALUE` of one method (not of functions nested in it) with `make`."""

    def __init__(self, make: object) -> None:
        super().__init__()
        self.make = make
        self.count = 0
        self._depth = 0

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self._depth += 1
        return self._depth == 1

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef:
        self._depth -= 1
        return updated_node

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement]:
        last = updated_node.body[-1]
        if (
            not isinstance(last, cst.Return)
            or last.value is None
            or m.matches(last.value, m.Name("None"))
        ):
            return updated_node
        made = self.make(last.value)  # type: ignore[operator]
        if made is None:
            return updated_node
        self.count += 1
        before, value = made
        returned = updated_node.with_changes(
            body=[*updated_node.body[:-1], last.with_changes(value=value)]
        )
        if not before:
            return returned
        first = before[0].with_changes(leading_lines=updated_node.leading_lines)
        return cst.FlattenSentinel([first, *before[1:], returned.with_changes(leading_lines=[])])


def collect_outputs(
    step: cst.FunctionDef, stage: Stage, imported: set[str], automatic: bool, unit: str
) -> cst.FunctionDef | None:
    """STEP appending what it returns to `self.<stage.outputs>`, as 1.x kept it for the epoch end;
    None when it returns nothing. IMPORTED: the file's imported names (their calls are not the
    project's code); AUTOMATIC: automatic optimization; UNIT: one level of the file's indentation."""
    dicts = _dict_names(step)
    maybe_none = _maybe_none_names(step, imported)
    # 1.x divided the loss it kept by accumulate_grad_batches (automatic optimization only)
    scale = " / self.trainer.accumulate_grad_batches" if automatic else ""

    def append(
        value: cst.BaseExpression,
    ) -> tuple[list[cst.BaseStatement], cst.BaseExpression]:
        before: list[cst.BaseStatement] = []
        may_be_none = _may_be_none(value, imported) or (
            isinstance(value, cst.Name) and value.value in maybe_none
        )
        if not isinstance(value, cst.Name):
            before.append(cst.parse_statement(f"output = {code(value)}\n"))
            name, is_dict = "output", isinstance(value, cst.Dict)
            value = cst.Name("output")
        else:
            name, is_dict = value.value, value.value in dicts
        # libcst keeps continuation lines relative to the statement's own indentation
        indent = unit if may_be_none else ""
        inner = "\n" + indent + unit
        if not stage.training:
            entry = name
        elif is_dict:  # 1.x kept the step's dict with its loss detached
            entry = f'{inner}{{**{name}, "loss": {name}["loss"].detach(){scale}}}\n{indent}'
        else:  # a dict or a tensor: only running it tells
            entry = (
                f'{inner}{{**{name}, "loss": {name}["loss"].detach(){scale}}}'
                f"{inner}if isinstance({name}, dict){inner}"
                f'else {{"loss": {name}.detach(){scale}}}\n{indent}'
            )
        line = f"self.{stage.outputs}.append({entry})\n"
        if may_be_none:
            line = f"if {name} is not None:\n{unit}{line}"
        before.append(cst.parse_statement(line))
        return before, value

    returns = Returns(append)
    collected = step.visit(returns)
    if not returns.count or not isinstance(collected, cst.FunctionDef):
        return None
    return collected


def _may_be_none(value: cst.BaseExpression, imported: set[str]) -> bool:
    """A value that can be None: a call of the project's own code (`self.shared_step(...)`, `step(...)`)."""
    if isinstance(value, cst.IfExp):
        return _may_be_none(value.body, imported) or _may_be_none(value.orelse, imported)
    if m.matches(value, m.Name("None")):
        return True
    if not isinstance(value, cst.Call):
        return False
    if isinstance(value.func, cst.Name):  # not `self(batch)` (forward) nor an imported function
        return value.func.value not in imported and value.func.value != "self"
    return m.matches(value.func, m.Attribute(value=m.Name("self")))


def _maybe_none_names(function: cst.FunctionDef, imported: set[str]) -> set[str]:
    """Names the method assigns, anywhere, a value that can be None."""
    return {
        target.target.value
        for assign in find(function, cst.Assign)
        if _may_be_none(assign.value, imported)
        for target in assign.targets
        if isinstance(target.target, cst.Name)
    }


def methods_of(body: list[cst.BaseStatement]) -> dict[str, int]:
    return {s.name.value: i for i, s in enumerate(body) if isinstance(s, cst.FunctionDef)}


def _dict_names(function: cst.FunctionDef) -> set[str]:
    """Names the method assigns a dict literal to (`result = {"loss": loss}`)."""
    found = set()
    for assign in find(function, cst.Assign):
        if isinstance(assign.value, cst.Dict):
            found |= {t.target.value for t in assign.targets if isinstance(t.target, cst.Name)}
    return found


def only_raises(function: cst.FunctionDef) -> bool:
    """An abstract method: a docstring at most, then `raise ...`."""
    statements = [s for s in function.body.body if not only_docstring(s)]
    return len(statements) == 1 and m.matches(
        statements[0], m.SimpleStatementLine(body=[m.Raise()])
    )


def only_docstring(statement: cst.CSTNode) -> bool:
    """A statement that is a string alone (a docstring, first in its body)."""
    return m.matches(statement, m.SimpleStatementLine(body=[m.Expr(m.SimpleString())]))
