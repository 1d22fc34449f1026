"""Turn the body of the training batch loop into training_step and the hooks around the optimizer step."""

from __future__ import annotations

from collections.abc import Callable, Set
from dataclasses import dataclass, field

import libcst as cst

from litgen.convert.clean import CleanOptions, CleanRecord, clean
from litgen.convert.clean_rules import BackwardRewrite, Mode
from litgen.convert.context import Ctx
from litgen.convert.inline import Seg
from litgen.convert.names import code, dotted, fresh_name, taken_names, usage
from litgen.convert.rules.accumulate import accumulation_steps, divided_by
from litgen.convert.rules.optim import (
    Backward,
    backward_of,
    calls_in,
    refuse_never_steps,
    step_of,
    zero_grad_of,
)
from litgen.convert.rules.schedule import direct_steps, register
from litgen.convert.script import iter_nodes
from litgen.cst_walk import find

TOUCHING_ATTRIBUTES = ("grad", "param_groups", "state_dict", "parameters", "named_parameters")


@dataclass
class BatchBinding:
    batch_param: str
    index_param: str
    prologue: list[cst.BaseStatement] = field(default_factory=list)
    batch_names: set[str] = field(default_factory=set)
    index_names: set[str] = field(default_factory=set)


@dataclass
class StepParts:
    binding: BatchBinding
    body: list[cst.BaseStatement] = field(default_factory=list)
    loss: cst.BaseExpression | None = None
    batch_start: list[cst.BaseStatement] = field(default_factory=list)
    before_optimizer_step: list[cst.BaseStatement] = field(default_factory=list)
    after_step: list[cst.BaseStatement] = field(default_factory=list)
    clip_hook: list[cst.BaseStatement] = field(default_factory=list)
    manual: bool = False
    record: CleanRecord = field(default_factory=CleanRecord)


def touches_training_state(ctx: Ctx, statement: cst.CSTNode, extra: Set[str] = frozenset()) -> bool:
    """Whether a statement reads the model, optimizer or scheduler (so it must stay after the step)."""
    names = usage([statement]).read
    if any(
        ctx.is_model(n) or ctx.is_optimizer(n) or ctx.is_scheduler(n) or n in extra for n in names
    ):
        return True
    return any(node.attr.value in TOUCHING_ATTRIBUTES for node in find(statement, cst.Attribute))


class StepBuilder:
    def __init__(self, ctx: Ctx, segs: list[Seg], binding: BatchBinding) -> None:
        self.ctx = ctx
        self.statements = [seg.node for seg in segs]
        self.binding = binding
        self.parts = StepParts(binding)
        self.taken = taken_names(self.statements, ctx.symbols) | {
            binding.batch_param,
            binding.index_param,
        }
        self.steps_at: list[int] = []
        self.backwards_at: list[int] = []
        self.backward_count = 0
        self.step_count = 0
        self.stepped: list[str] = []
        for index, statement in enumerate(self.statements):
            calls = calls_in([statement])
            backwards = [c for c in calls if backward_of(ctx, c) is not None]
            steps = [step_of(ctx, c) for c in calls]
            steps_here = [s for s in steps if s is not None]
            self.backward_count += len(backwards)
            self.step_count += len(steps_here)
            self.stepped += [s.optimizer for s in steps_here if s.optimizer not in self.stepped]
            if backwards:
                self.backwards_at.append(index)
            if steps_here:
                self.steps_at.append(index)

    # --- decisions ----------------------------------------------------------------------------
    def closure_step(self) -> tuple[int, str] | None:
        for index, statement in enumerate(self.statements):
            for call in calls_in([statement]):
                step = step_of(self.ctx, call)
                if step is not None and isinstance(step.closure, cst.Name):
                    return index, step.closure.value
        return None

    def needs_manual(self) -> str | None:
        if self.steps_at and not any(zero_grad_of(self.ctx, c) for c in calls_in(self.statements)):
            return "no zero_grad() in the loop, so gradients add up across steps"
        if len(self.stepped) > 1:
            return f"{len(self.stepped)} optimizers ({', '.join(self.stepped)})"
        if self.backward_count > 1:
            return f"{self.backward_count} backward passes per batch"
        if self.step_count > 1:
            return "several optimizer steps per batch"
        if not self.backwards_at or not self.steps_at:
            return None
        if self.steps_at[0] < self.backwards_at[0]:
            return "the optimizer steps before backward()"
        backward_statement = self.statements[self.backwards_at[0]]
        if not _direct(backward_statement, lambda n: backward_of(self.ctx, n) is not None):
            return "backward() runs under a condition or in a nested loop"
        step_statement = self.statements[self.steps_at[0]]
        if not _direct(step_statement, lambda n: step_of(self.ctx, n) is not None):
            if self.accumulation() is None:
                return "the optimizer steps under a condition"
        return None

    def accumulation(self) -> cst.BaseExpression | None:
        statement = self.statements[self.steps_at[0]]
        if isinstance(statement, cst.If) and statement.orelse is None:
            inner = statement.body.body if isinstance(statement.body, cst.IndentedBlock) else []
            if any(_direct(s, lambda n: step_of(self.ctx, n) is not None) for s in inner):
                return accumulation_steps(statement.test, self.binding.index_names)
        return None

    # --- building -----------------------------------------------------------------------------
    def build(self) -> StepParts:
        closure = self.closure_step()
        reason = self.needs_manual() if closure is None else None
        if reason is not None:
            self.ctx.mapped(
                f"manual optimization ({reason})",
                None,
                "training_step with automatic_optimization = False",
            )
            return self._manual()
        if closure is not None:
            return self._closure(*closure)
        return self._automatic()

    def _options(self, mode: Mode, backward: BackwardRewrite | None = None) -> CleanOptions:
        return CleanOptions(mode, set(self.binding.batch_names), backward=backward)

    def _log_loss(
        self, loss: cst.BaseExpression, key: str = "train_loss"
    ) -> cst.BaseSmallStatement:
        return cst.Expr(cst.parse_expression(f'self.log("{key}", {code(loss)}, prog_bar=True)'))

    def _automatic(self) -> StepParts:
        parts, ctx = self.parts, self.ctx
        if not self.backwards_at or not self.steps_at:
            refuse_never_steps(ctx, "batch loop")
        steps = self.accumulation()
        accumulation_if = self.statements[self.steps_at[0]] if steps is not None else None
        if steps is not None and not self._strip_division(steps):
            self.ctx.mapped(
                "gradient accumulation without a divided loss", None, "manual optimization"
            )
            return self._manual()
        if steps is not None:
            ctx.option("accumulate_grad_batches", steps, ctx.line(accumulation_if))
            ctx.mapped(
                "gradient accumulation",
                ctx.line(accumulation_if),
                f"Trainer(accumulate_grad_batches={code(steps)})",
            )
        dropped = self._step_schedulers(accumulation_if)
        first_b, first_s = self.backwards_at[0], self.steps_at[0]
        options = self._options("auto", backward=self._backward_rewrite)
        options.drop_scheduler_steps = dropped
        record = parts.record
        pre = clean(ctx, self.statements[: first_b + 1], options, record)
        grad = clean(ctx, self.statements[first_b + 1 : first_s], options, record)
        options.continue_returns_none = False
        post = clean(ctx, self.statements[first_s:], options, record)
        parts.body = pre
        grad_names = usage(record.custom_clips).assigned
        for statement in grad:
            if touches_training_state(ctx, statement):
                parts.before_optimizer_step.append(statement)
            else:
                parts.body.append(statement)
        parts.clip_hook = list(record.custom_clips)
        for index, statement in enumerate(post):
            # a `continue` after the step (now a `return`) must not end training_step before it
            # returns the loss
            ends_early = any(isinstance(node, cst.Return) for node in iter_nodes(statement))
            if ends_early or touches_training_state(
                ctx, statement, grad_names | usage(parts.before_optimizer_step).assigned
            ):
                parts.after_step = post[index:]
                break
            parts.body.append(statement)
        if any(isinstance(node, cst.Return) for s in grad for node in iter_nodes(s)):
            ctx.refuse(
                "`continue` between backward() and the optimizer step cannot be expressed in Lightning",
                line=None,
            )
        return parts

    def _strip_division(self, steps: cst.BaseExpression) -> bool:
        """Lightning divides the loss by accumulate_grad_batches itself: drop the script's own division."""
        backward = next(
            backward_of(self.ctx, c)
            for c in calls_in([self.statements[self.backwards_at[0]]])
            if backward_of(self.ctx, c)
        )
        assert backward is not None
        if divided_by(backward.loss, steps) is not None:
            self._accumulation_steps = steps
            return True
        loss = dotted(backward.loss)
        for index in range(self.backwards_at[0] + 1):
            statement = self.statements[index]
            replacement = _undivide(statement, loss, steps)
            if replacement is None:
                continue
            if replacement is _REMOVED:
                del self.statements[index]
                self.backwards_at = [i - 1 if i > index else i for i in self.backwards_at]
                self.steps_at = [i - 1 if i > index else i for i in self.steps_at]
            else:
                self.statements[index] = replacement
            return True
        return False

    def _backward_rewrite(
        self, backward: Backward, line: int | None
    ) -> list[cst.BaseSmallStatement]:
        steps = getattr(self, "_accumulation_steps", None)
        undivided = divided_by(backward.loss, steps) if steps is not None else None
        loss = undivided if undivided is not None else backward.loss
        smalls: list[cst.BaseSmallStatement] = []
        if not isinstance(loss, cst.Name) or self._reassigned_later(loss.value):
            name = fresh_name("step_loss" if isinstance(loss, cst.Name) else "loss", self.taken)
            smalls.append(
                cst.Assign([cst.AssignTarget(cst.Name(name))], loss.with_changes(lpar=[], rpar=[]))
            )
            loss = cst.Name(name)
        self.parts.loss = loss
        self.ctx.mapped(
            "loss.backward() + optimizer.step()", line, "training_step returns the loss"
        )
        smalls.append(self._log_loss(loss))
        return smalls

    def _reassigned_later(self, name: str) -> bool:
        later = self.statements[self.backwards_at[0] + 1 :]
        return name in usage(later).assigned

    def _step_schedulers(self, accumulation_if: cst.BaseStatement | None) -> set[str]:
        """Schedulers stepped right after the optimizer, every batch: Lightning's interval="step"."""
        after = list(self.statements[self.steps_at[0] + 1 :])
        if isinstance(accumulation_if, cst.If) and isinstance(
            accumulation_if.body, cst.IndentedBlock
        ):
            after = [*accumulation_if.body.body, *after]
        dropped = set()
        for name, call in direct_steps(self.ctx, after):
            if register(self.ctx, name, call, "step"):
                dropped.add(name)
        return dropped

    def _closure(self, step_index: int, closure_name: str) -> StepParts:
        """LBFGS: Lightning hands its own closure to optimizer.step(); the user's closure is training_step."""
        parts, ctx = self.parts, self.ctx
        definition = next(
            (
                s
                for s in self.statements[:step_index]
                if isinstance(s, cst.FunctionDef) and s.name.value == closure_name
            ),
            None,
        )
        if definition is None:
            definition = ctx.script.nested_function(None, closure_name)
        if definition is None or not isinstance(definition.body, cst.IndentedBlock):
            ctx.refuse(
                f"cannot find the closure `{closure_name}` passed to optimizer.step()", line=None
            )
        body = list(definition.body.body)
        last = body[-1] if body else None
        if not (
            isinstance(last, cst.SimpleStatementLine)
            and isinstance(last.body[0], cst.Return)
            and last.body[0].value
        ):
            ctx.refuse(f"the closure `{closure_name}` must end with `return loss`", definition)
        returned = last.body[0].value
        inner = StepBuilder(ctx, [], self.binding)
        inner.statements = body[:-1]
        inner.taken = self.taken
        inner.backwards_at = [
            i
            for i, s in enumerate(inner.statements)
            if any(backward_of(ctx, c) for c in calls_in([s]))
        ]
        options = self._options(
            "auto", backward=lambda b, line: inner._closure_backward(b, line, returned)
        )
        parts.body = clean(ctx, inner.statements, options, parts.record)
        parts.loss = inner.parts.loss or returned
        before = [s for s in self.statements[:step_index] if s is not definition]
        parts.batch_start = clean(ctx, before, self._options("auto"), parts.record)
        options = self._options("auto")
        options.continue_returns_none = False
        parts.after_step = clean(ctx, self.statements[step_index + 1 :], options, parts.record)
        ctx.mapped(
            f"closure `{closure_name}` passed to optimizer.step()",
            ctx.line(definition),
            "training_step",
        )
        return parts

    def _closure_backward(
        self, backward: Backward, line: int | None, returned: cst.BaseExpression
    ) -> list[cst.BaseSmallStatement]:
        self.parts.loss = returned
        return [self._log_loss(backward.loss)]

    def _manual(self) -> StepParts:
        parts, ctx = self.parts, self.ctx
        parts.manual = True
        parts.body = clean(
            ctx,
            self.statements,
            self._options("manual", backward=self._manual_backward),
            parts.record,
        )
        target = ", ".join(self.stepped)
        value = "self.optimizers()"
        parts.binding.prologue.insert(0, cst.parse_statement(f"{target} = {value}"))
        return parts

    def _manual_backward(
        self, backward: Backward, line: int | None
    ) -> list[cst.BaseSmallStatement]:
        extra = "".join(f", {code(a)}" for a in backward.extra_args)
        smalls: list[cst.BaseSmallStatement] = [
            cst.Expr(cst.parse_expression(f"self.manual_backward({code(backward.loss)}{extra})"))
        ]
        if isinstance(backward.loss, cst.Name):
            smalls.append(
                self._log_loss(
                    backward.loss, f"train_{self.ctx.symbols.readable(backward.loss.value)}"
                )
            )
        return smalls


def _direct(statement: cst.CSTNode, predicate: Callable[[cst.BaseExpression], bool]) -> bool:
    """The call is a statement of its own at this level (or inside an autocast block)."""
    if isinstance(statement, cst.SimpleStatementLine):
        return any(isinstance(s, cst.Expr) and predicate(s.value) for s in statement.body)
    if isinstance(statement, cst.With) and isinstance(statement.body, cst.IndentedBlock):
        return any(_direct(s, predicate) for s in statement.body.body)
    return False


_REMOVED = cst.SimpleStatementLine(body=[cst.Pass()])


def _undivide(
    statement: cst.BaseStatement, loss: str | None, steps: cst.BaseExpression
) -> cst.BaseStatement | None:
    """`loss = loss / N` -> removed, `loss /= N` -> removed, `loss = f(x) / N` -> `loss = f(x)`."""
    if (
        loss is None
        or not isinstance(statement, cst.SimpleStatementLine)
        or len(statement.body) != 1
    ):
        return None
    small = statement.body[0]
    if isinstance(small, cst.AugAssign) and isinstance(small.operator, cst.DivideAssign):
        same_count = code(small.value).strip("() ") == code(steps).strip("() ")
        if dotted(small.target) == loss and same_count:
            return _REMOVED
    if (
        isinstance(small, cst.Assign)
        and len(small.targets) == 1
        and dotted(small.targets[0].target) == loss
    ):
        undivided = divided_by(small.value, steps)
        if undivided is not None:
            if dotted(undivided) == loss:
                return _REMOVED
            return statement.with_changes(body=[small.with_changes(value=undivided)])
    return None
