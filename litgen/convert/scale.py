"""Make rendered hooks correct on N processes: per-process sums added up before use, prints from rank zero.

Under DDP each process sees its own share of every loader, so a sum a hook accumulates over batches
holds only that process's part, and `len(loader)` counts only that process's batches. Dividing, logging
or printing them as the single-process script did gives a different number on every process. This
pass adds those sums up across processes at the end of each pass (a no-op on one process), and makes
hooks print through `self.print`, which prints on global rank zero only, and `torch.save` in a
hook runs on rank zero only (every process would write the same file at once).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import libcst as cst
import libcst.matchers as m

from litgen.convert.substitute import visit_statement

HELPER = "_sum_over_processes"
STEP_HOOK = {"train": "training_step", "val": "validation_step", "test": "test_step"}
PASS_NAME = {"train": "train", "val": "validation", "test": "test"}
LOADER_ACCESSOR = {
    "train": "self.trainer.train_dataloader",
    "val": "self.trainer.val_dataloaders",
    "test": "self.trainer.test_dataloaders",
}
REDUCE_NOTE = "# each process summed its own batches: add up every process's sums before using them"
GATHER_NOTE = (
    "`self.{name}` collects this process's batches only; on several processes gather it "
    "(`self.all_gather`) before using it"
)

Bodies = dict[str, list[cst.BaseStatement]]


@dataclass(frozen=True)
class Scaled:
    """The hooks after the pass, whether they call the helper, and review notes per hook."""

    bodies: Bodies
    uses_helper: bool
    notes: Mapping[str, tuple[str, ...]]


def _self_attribute(node: cst.CSTNode) -> str | None:
    if isinstance(node, cst.Attribute) and m.matches(node.value, m.Name("self")):
        return node.attr.value
    return None


class _Accumulations(cst.CSTVisitor):
    """`self.x += ...` (or `self.x = self.x + ...`) sums, and `self.x.append(...)` collections."""

    def __init__(self) -> None:
        self.sums: dict[str, None] = {}  # in order of appearance
        self.collections: set[str] = set()
        self.read: set[str] = set()

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        name = _self_attribute(node.target)
        if name is not None and isinstance(node.operator, (cst.AddAssign, cst.SubtractAssign)):
            self.sums.setdefault(name)

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            name = _self_attribute(target.target)
            if name is None or not isinstance(node.value, cst.BinaryOperation):
                continue
            if (
                isinstance(node.value.operator, cst.Add)
                and _self_attribute(node.value.left) == name
            ):
                self.sums.setdefault(name)

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Attribute) and node.func.attr.value in ("append", "extend"):
            name = _self_attribute(node.func.value)
            if name is not None:
                self.collections.add(name)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        name = _self_attribute(node)
        if name is not None:
            self.read.add(name)


def _scan(body: Sequence[cst.BaseStatement]) -> _Accumulations:
    found = _Accumulations()
    for statement in body:
        statement.visit(found)
    return found


def _assigned(body: Sequence[cst.BaseStatement]) -> set[str]:
    """Attributes a hook (re)sets with plain assignment: `self.x = 0` or `self.x, self.y = 0, 0`."""
    names: set[str] = set()
    for statement in body:
        for assign in m.findall(statement, m.Assign()):
            assert isinstance(assign, cst.Assign)
            for target in assign.targets:
                elements = (
                    target.target.elements
                    if isinstance(target.target, cst.Tuple)
                    else [target.target]
                )
                for element in elements:
                    node = element.value if isinstance(element, cst.Element) else element
                    name = _self_attribute(node)
                    if name is not None:
                        names.add(name)
    return names


class _CountBatchesGlobally(cst.CSTTransformer):
    """`len(<this pass's loader>)` -> every process's batch count added up (`len(loader.dataset)` stays)."""

    def __init__(self, accessor: str) -> None:
        self.accessor = cst.parse_expression(accessor)
        self.changed = False

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        if not m.matches(updated_node, m.Call(func=m.Name("len"), args=[m.Arg(keyword=None)])):
            return updated_node
        if not updated_node.args[0].value.deep_equals(self.accessor):
            return updated_node
        self.changed = True
        return cst.parse_expression(f"self.{HELPER}()").with_changes(args=[cst.Arg(updated_node)])


class _CountInSums(cst.CSTTransformer):
    """Batch counts inside the accumulation of a sum that is added up across processes."""

    def __init__(self, sums: set[str], counter: _CountBatchesGlobally) -> None:
        self.sums = sums
        self.counter = counter

    def leave_AugAssign(
        self, original_node: cst.AugAssign, updated_node: cst.AugAssign
    ) -> cst.AugAssign:
        if _self_attribute(updated_node.target) in self.sums:
            return updated_node.with_changes(value=updated_node.value.visit(self.counter))
        return updated_node


class _SaveOnRankZero(cst.CSTTransformer):
    """`torch.save(...)` in a hook: every process would write the same file at once; rank zero writes it."""

    def __init__(self, save: str) -> None:
        self.save = save
        self._rank_checked = (
            0  # inside `if self.local_rank == 0:` and the like: already one process
        )

    def visit_If(self, node: cst.If) -> None:
        test = cst.Module([]).code_for_node(node.test)
        self._rank_checked += "rank" in test or "is_global_zero" in test

    def leave_If(self, original_node: cst.If, updated_node: cst.If) -> cst.If:
        test = cst.Module([]).code_for_node(original_node.test)
        self._rank_checked -= "rank" in test or "is_global_zero" in test
        return updated_node

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.BaseStatement:
        saves = [
            small
            for small in updated_node.body
            if isinstance(small, cst.Expr)
            and isinstance(small.value, cst.Call)
            and cst.Module([]).code_for_node(small.value.func) == self.save
        ]
        if not saves or self._rank_checked:
            return updated_node
        guarded = updated_node.with_changes(leading_lines=[])
        return cst.If(
            test=cst.parse_expression("self.trainer.is_global_zero"),
            body=cst.IndentedBlock(body=[guarded]),
            leading_lines=updated_node.leading_lines,
        )


class _PrintOnRankZero(cst.CSTTransformer):
    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        if m.matches(updated_node.func, m.Name("print")):
            return updated_node.with_changes(func=cst.parse_expression("self.print"))
        return updated_node


def _reductions(names: Sequence[str]) -> list[cst.BaseStatement]:
    lines: list[cst.BaseStatement] = [
        cst.parse_statement(f"self.{name} = self.{HELPER}(self.{name})") for name in names
    ]
    note = cst.EmptyLine(comment=cst.Comment(REDUCE_NOTE))
    lines[0] = lines[0].with_changes(leading_lines=[note])
    return lines


def _transform(
    body: list[cst.BaseStatement], transformer: cst.CSTTransformer
) -> list[cst.BaseStatement]:
    return [visit_statement(statement, transformer) for statement in body]


def make_process_correct(
    bodies: Bodies, copied_back: set[str], print_shadowed: bool, torch_alias: str | None = None
) -> Scaled:
    """Add up per-process sums at the end of each pass, count batches over all processes, print and save once."""
    result: Bodies = {name: list(body) for name, body in bodies.items()}
    uses_helper = False
    notes: dict[str, tuple[str, ...]] = {}
    for family, step_hook in STEP_HOOK.items():
        step = result.get(step_hook)
        if step is None:
            continue
        start_hook, end_hook = (
            f"on_{PASS_NAME[family]}_epoch_start",
            f"on_{PASS_NAME[family]}_epoch_end",
        )
        accumulated = _scan(step)
        end_reads = _scan(result.get(end_hook, [])).read
        wanted = end_reads | copied_back
        reset = _assigned(result.get(start_hook, []))
        # a sum not reset at the start of each pass keeps growing; adding it up in place would count
        # twice
        sums = [name for name in accumulated.sums if name in wanted and name in reset]
        gathered = sorted(name for name in accumulated.collections if name in end_reads)
        if gathered:
            notes[end_hook] = tuple(GATHER_NOTE.format(name=name) for name in gathered)
        counter = _CountBatchesGlobally(LOADER_ACCESSOR[family])
        if end_hook in result:
            result[end_hook] = _transform(result[end_hook], counter)
        if start_hook in result:
            result[start_hook] = _count_in_start(result[start_hook], counter, _scan(step).read)
        if sums:
            result[end_hook] = [*_reductions(sums), *result.get(end_hook, [])]
            # `total += loss / len(loader)` in the step: a share of the global mean needs the global
            # count
            result[step_hook] = [
                visit_statement(s, _CountInSums(set(sums), counter)) for s in result[step_hook]
            ]
        uses_helper = uses_helper or bool(sums) or counter.changed
    if not print_shadowed:
        result = {name: _transform(body, _PrintOnRankZero()) for name, body in result.items()}
    if torch_alias is not None:
        result = {
            name: _transform(body, _SaveOnRankZero(f"{torch_alias}.save"))
            for name, body in result.items()
        }
    return Scaled(result, uses_helper, notes)


def _count_in_start(
    body: list[cst.BaseStatement], counter: _CountBatchesGlobally, step_reads: set[str]
) -> list[cst.BaseStatement]:
    """Batch counts taken at the start of a pass are made global unless the step itself reads them."""
    rewritten = []
    for statement in body:
        if _assigned([statement]) & step_reads:
            rewritten.append(statement)
        else:
            rewritten.append(visit_statement(statement, counter))
    return rewritten


def helper_method(torch_alias: str | None) -> list[cst.BaseStatement]:
    """The body of `_sum_over_processes(self, value)`: one process's sum added up over all of them."""
    torch = torch_alias or "torch"
    lines = [
        '"""A number or tensor this process summed, added up over every process (unchanged on one)."""',
        *([] if torch_alias else ["import torch", ""]),
        f"if isinstance(value, {torch}.Tensor):",
        '    return self.trainer.strategy.reduce(value.detach().clone(), reduce_op="sum")',
        f"total = {torch}.tensor(value, dtype={torch}.float64, device=self.device)",
        'return type(value)(self.trainer.strategy.reduce(total, reduce_op="sum").item())',
    ]
    return list(cst.parse_module("\n".join(lines) + "\n").body)
