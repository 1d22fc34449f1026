"""Inline the user's train()/test() helpers into one flat list of statements in the entry scope's terms."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import libcst as cst

from litgen.convert.binding import CallBinder
from litgen.convert.context import Ctx
from litgen.convert.instances import find_instances
from litgen.convert.items import (
    TRANSPARENT_CONTEXTS,
    Env,
    Instance,
    Item,
    LoopItem,
    Seg,
    is_docstring,
    is_global,
    keyword_of,
    single_return,
)
from litgen.convert.names import block_statements, dotted, usage
from litgen.convert.rules.validation import every_n_epochs
from litgen.convert.script import walk_statements
from litgen.convert.structure import Loop, Shape, loop_kind
from litgen.convert.substitute import substitute

__all__ = ["TRANSPARENT_CONTEXTS", "Env", "Flattener", "Item", "LoopItem", "Seg"]
Callee = tuple[cst.FunctionDef, cst.Call, "Instance | None"]


class Flattener(CallBinder):
    def __init__(self, ctx: Ctx, shape: Shape) -> None:
        super().__init__(ctx, shape)
        script = self.script
        self.is_model = ctx.is_model
        self._training: set[int] = set()
        for node in [
            *shape.backward,
            *([shape.batch_loop] if shape.batch_loop is not None else []),
        ]:
            self._training.add(id(node))
            self._training.update(id(a) for a in script.ancestors(node))
        self._trains_memo: dict[int, bool] = {}
        self.inlined: list[cst.FunctionDef] = []
        self.instances = find_instances(ctx, shape, self._training, self._taken)
        self.classes_inlined: list[cst.ClassDef] = []

    # --- environments -------------------------------------------------------------------------
    def entry_env(self) -> Env:
        label = self.shape.entry.name.value if self.shape.entry else "script"
        return Env(
            0,
            label,
            self.shape.entry,
            params=dict(self.ctx.facts.aliases),
            instances=self.instances,
        )

    # --- what a statement is ------------------------------------------------------------------
    def callee_of(self, statement: cst.CSTNode, env: Env) -> Callee | None:
        """The user function (or trainer method) a statement calls: `f(...)`, `x = f(...)`, `x += f(...)`."""
        if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
            return None
        small = statement.body[0]
        value = small.value if isinstance(small, (cst.Expr, cst.Assign, cst.AugAssign)) else None
        if not isinstance(value, cst.Call):
            return None
        if isinstance(value.func, cst.Name):
            callee = self.script.nested_function(env.function, value.func.value)
            return (callee, value, None) if callee is not None else None
        if isinstance(value.func, cst.Attribute) and isinstance(value.func.value, cst.Name):
            owner, method = value.func.value.value, value.func.attr.value
            instance = env.instance if owner == env.self_name else env.instances.get(owner)
            method_def = instance.method(method) if instance is not None else None
            if method_def is not None:
                return method_def, value, instance
        return None

    def trains(self, function: cst.FunctionDef) -> bool:
        """Whether the function (or one it calls) holds the training loop or a backward call."""
        key = id(function)
        if key not in self._trains_memo:
            self._trains_memo[key] = id(function) in self._training
            if not self._trains_memo[key]:
                for statement in walk_statements(function.body):
                    found = self.callee_of(statement, self._probe_self(function))
                    if found is not None and found[0] is not function and self.trains(found[0]):
                        self._trains_memo[key] = True
                        break
        return self._trains_memo[key]

    def _probe_self(self, function: cst.FunctionDef) -> Env:
        """An environment that knows `self` when asking what a method calls."""
        klass = self.script.enclosing_class(function)
        env = Env(0, "", function)
        if klass is not None:
            env.self_name = "self"
            env.instance = Instance("self", klass, function)
        return env

    def uses_model(self, node: cst.CSTNode) -> bool:
        return any(self.is_model(name) for name in usage([node]).read)

    def is_eval_loop(self, statement: cst.CSTNode, env: Env) -> bool:
        if not isinstance(statement, cst.For) or loop_kind(self.script, statement) != "data":
            return False
        return self.uses_model(self.resolve(statement.body, env))

    def evaluates(self, function: cst.FunctionDef, env: Env) -> bool:
        return any(self.is_eval_loop(s, env) for s in walk_statements(function.body))

    def transparent_with(self, statement: cst.CSTNode) -> bool:
        if not isinstance(statement, cst.With):
            return False
        for item in statement.items:
            call = item.item.func if isinstance(item.item, cst.Call) else item.item
            if (
                not self.script.imports.starts(call, *TRANSPARENT_CONTEXTS)
                or item.asname is not None
            ):
                return False
        return True

    # --- flattening ---------------------------------------------------------------------------
    def flatten(self, statements: Sequence[cst.BaseStatement], env: Env) -> list[Item]:
        items: list[Item] = []
        for statement in statements:
            items.extend(self._flatten_one(statement, env))
        return items

    def _flatten_one(self, statement: cst.BaseStatement, env: Env) -> list[Item]:
        line = self.script.line(statement)
        if statement is self.shape.batch_loop:
            return [self._loop_item("train", statement, env)]
        if statement is self.shape.epoch_loop and statement is not self.shape.region:
            return [
                self._loop_item("epoch", statement, env)
            ]  # the epoch loop sits in an inlined helper
        holds_training = id(statement) in self._training
        periodic = self._periodic_evaluation(statement, env)
        if periodic is not None:
            return periodic
        found = self.callee_of(statement, env)
        if found is not None and found[2] is not None:
            # a trainer method: `self` cannot survive, always inline
            return self.inline(found, statement, env)
        if holds_training or self._holds_eval(statement, env):
            if isinstance(statement, cst.For) and self.is_eval_loop(statement, env):
                if not holds_training:
                    return [self._loop_item("eval", statement, env)]
            if isinstance(statement, cst.With) and self.transparent_with(statement):
                return self.flatten(block_statements(statement.body), env)
            if found is not None:
                return self.inline(found, statement, env)
            if holds_training and self.shape.batch_loop is None:
                return [Seg(self.resolve_statement(statement, env), line, env.scope)]  # full batch
            what = "training" if holds_training else "evaluation"
            self.script.refuse(
                f"the {what} loop runs inside a `{keyword_of(statement)}` block (line {line}); "
                "litgen converts loops that run unconditionally every epoch",
                statement,
            )
        return [Seg(self._resolve_nested(statement, env), line, env.scope)]

    def _periodic_evaluation(self, statement: cst.BaseStatement, env: Env) -> list[Item] | None:
        """`if (epoch + 1) % N == 0: evaluate(...)` directly in the epoch loop: validate every N epochs."""
        loop = self.shape.epoch_loop
        if not isinstance(statement, cst.If) or statement.orelse is not None or env.scope != 0:
            return None
        if (
            not isinstance(loop, cst.For)
            or loop is not self.shape.region
            or not isinstance(loop.target, cst.Name)
        ):
            return None
        body = statement.body.body if isinstance(statement.body, cst.IndentedBlock) else []
        if len(body) != 1 or not self._holds_eval(body[0], env) or id(body[0]) in self._training:
            return None
        start = _range_start(loop.iter)
        steps = (
            every_n_epochs(statement.test, loop.target.value, start) if start is not None else None
        )
        if steps is None:
            return None
        self.ctx.option("check_val_every_n_epoch", steps, self.script.line(statement))
        self.ctx.mapped(
            "evaluation every few epochs",
            self.script.line(statement),
            "Trainer(check_val_every_n_epoch=...)",
        )
        return self._flatten_one(body[0], env)

    def _holds_eval(self, statement: cst.BaseStatement, env: Env) -> bool:
        if self.is_eval_loop(statement, env):
            return True
        if isinstance(statement, cst.With) and self.transparent_with(statement):
            return any(self._holds_eval(s, env) for s in block_statements(statement.body))
        if isinstance(statement, (cst.If, cst.Try, cst.With, cst.For, cst.While)):
            return any(self.is_eval_loop(s, env) for s in walk_statements(statement))
        found = self.callee_of(statement, env)
        if found is None:
            return False
        callee, call, instance = found
        if self.trains(callee):
            return True
        if not any(isinstance(s, (cst.For, cst.While)) for s in walk_statements(callee.body)):
            return False  # no loop, no evaluation pass: a helper like `log(*args)` stays a call
        return self.evaluates(callee, self._probe_env(callee, call, env, instance))

    def _probe_env(
        self, callee: cst.FunctionDef, call: cst.Call, env: Env, instance: Instance | None
    ) -> Env:
        """Parameters only: enough to ask whether the helper's loop uses the model."""
        probe = Env(-1, callee.name.value, callee, self._bind(callee, call, env, hoist=False))
        if instance is not None:
            probe.self_name, probe.instance = "self", instance
        return probe

    def _loop_item(self, kind: Literal["train", "eval", "epoch"], loop: Loop, env: Env) -> LoopItem:
        item = LoopItem(kind, loop, env, self.script.line(loop))
        if isinstance(loop, cst.For):
            item.target = self.resolve_target(loop.target, env)
            item.iterable = self.resolve_expression(loop.iter, env)
            if loop.orelse is not None:
                self.script.refuse(
                    "a training loop with an `else:` block cannot be converted", loop
                )
        return item

    def inline(
        self, found: Callee, statement: cst.BaseStatement, env: Env, batch: bool = False
    ) -> list[Item]:
        callee, call, instance = found
        callee_env = self._callee_env(callee, call, env, instance)
        if instance is None and callee not in self.inlined:
            self.inlined.append(callee)
        if instance is not None and instance.klass not in self.classes_inlined:
            self.classes_inlined.append(instance.klass)
        body = block_statements(callee.body)
        if body and is_docstring(body[0]):
            body = body[1:]
        returned: cst.BaseExpression | None = None
        if body and single_return(body[-1]) is not None:
            returned = single_return(body[-1])
            body = body[:-1]
        for inner in walk_statements(cst.IndentedBlock(body=body)):
            if isinstance(inner, cst.SimpleStatementLine) and any(
                isinstance(s, cst.Return) for s in inner.body
            ):
                self.script.refuse(
                    f"{callee.name.value}() returns early (line {self.script.line(inner)}); "
                    "litgen inlines helpers that return only at their end",
                    inner,
                )
        kept = [s for s in body if not is_global(s)]
        if batch:  # a per-batch helper: its statements are batch code, not loops to discover
            items: list[Item] = [
                seg for s in kept for seg in self._flatten_batch_statement(s, callee_env)
            ]
        else:
            items = self.flatten(kept, callee_env)
        assert isinstance(statement, cst.SimpleStatementLine)  # callee_of found a call in it
        small = statement.body[0]
        if isinstance(small, (cst.Assign, cst.AugAssign)):
            if returned is None:
                self.script.refuse(
                    f"{callee.name.value}() returns nothing but its result is used", statement
                )
            value = self.resolve_expression(returned, callee_env)
            target = small.with_changes(value=cst.Name("__lg_result__"))
            binding = self.resolve_statement(cst.SimpleStatementLine(body=[target]), env)
            binding = substitute(binding, self.script.lines, {"__lg_result__": value})
            items.append(Seg(binding, self.script.line(statement), callee_env.scope))
        return items

    def _resolve_nested(self, statement: cst.BaseStatement, env: Env) -> cst.BaseStatement:
        """Resolve a statement; trainer-method calls nested in its blocks are inlined in place."""
        if (
            isinstance(statement, cst.SimpleStatementLine)
            or env.instance is None
            and not env.instances
        ):
            return self.resolve_statement(statement, env)
        spliced: dict[str, list[cst.BaseStatement]] = {}
        flattener = self

        class _Placeholders(cst.CSTTransformer):
            def leave_SimpleStatementLine(
                self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
            ) -> cst.BaseStatement:
                found = flattener.callee_of(original_node, env)
                if found is None or found[2] is None:
                    return updated_node
                items = flattener.inline(found, original_node, env, batch=True)
                key = f"__lg_inlined_{len(spliced)}__"
                spliced[key] = [item.node for item in items if isinstance(item, Seg)]
                return cst.SimpleStatementLine([cst.Expr(cst.Call(cst.Name(key)))])

        marked = statement.visit(_Placeholders())
        assert isinstance(marked, cst.BaseStatement)
        resolved = self.resolve_statement(marked, env)

        class _Splice(cst.CSTTransformer):
            def leave_SimpleStatementLine(
                self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
            ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement]:
                small = original_node.body[0]
                if (
                    isinstance(small, cst.Expr)
                    and isinstance(small.value, cst.Call)
                    and isinstance(small.value.func, cst.Name)
                ):
                    body = spliced.get(small.value.func.value)
                    if body is not None:
                        return cst.FlattenSentinel(body or [cst.SimpleStatementLine([cst.Pass()])])
                return updated_node

        spliced_statement = resolved.visit(_Splice())
        assert isinstance(spliced_statement, cst.BaseStatement)
        return spliced_statement

    def flatten_body(self, loop: LoopItem) -> list[Seg]:
        """The statements of a batch loop, with per-batch helpers (e.g. `train_step(...)`) inlined."""
        result: list[Seg] = []
        for statement in block_statements(loop.node.body):
            result.extend(self._flatten_batch_statement(statement, loop.env))
        return result

    def _flatten_batch_statement(self, statement: cst.BaseStatement, env: Env) -> list[Seg]:
        found = self.callee_of(statement, env)
        if found is not None and (self.trains(found[0]) or found[2] is not None):
            segs: list[Seg] = []
            for item in self.inline(found, statement, env, batch=True):
                assert isinstance(item, Seg)
                segs.append(item)
            return segs
        return [Seg(self._resolve_nested(statement, env), self.script.line(statement), env.scope)]


def _range_start(iterable: cst.BaseExpression) -> int | None:
    """0 for `range(E)`, s for `range(s, E)` with a literal s; None otherwise."""
    while (
        isinstance(iterable, cst.Call)
        and dotted(iterable.func) in ("tqdm", "tqdm.tqdm", "trange")
        and iterable.args
    ):
        if dotted(iterable.func) == "trange":
            break
        iterable = iterable.args[0].value
    if not isinstance(iterable, cst.Call) or not iterable.args:
        return None
    if len(iterable.args) == 1:
        return 0
    first = iterable.args[0].value
    return int(first.value) if isinstance(first, cst.Integer) else None
