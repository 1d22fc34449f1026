"""Home-made trainer objects: unroll `trainer = Trainer(...)` so each `self.attr` has an entry-scope name."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import libcst as cst

from litgen.convert.context import Ctx
from litgen.convert.facts import learn_binding
from litgen.convert.items import Instance, is_docstring
from litgen.convert.names import block_statements, code, dotted, fresh_name, usage
from litgen.convert.rewrite import Edits
from litgen.convert.rules.device import is_move_statement, without_moves
from litgen.convert.rules.distributed import unwrap_parallel
from litgen.convert.script import walk_statements
from litgen.convert.structure import Shape
from litgen.convert.substitute import substitute


def trainer_classes(ctx: Ctx, training_ids: set[int]) -> set[str]:
    """User classes (not nn.Modules) whose methods hold the training loop or a backward call."""
    found = set()
    for name, klass in ctx.script.classes.items():
        if name not in ctx.script.module_classes and id(klass) in training_ids:
            found.add(name)
    return found


def find_instances(
    ctx: Ctx, shape: Shape, training_ids: set[int], taken: set[str]
) -> dict[str, Instance]:
    classes = trainer_classes(ctx, training_ids)
    instances: dict[str, Instance] = {}
    for name, bindings in list(ctx.facts.bindings.items()):
        binding = bindings[-1]
        value = binding.value
        if (
            isinstance(value, cst.Call)
            and isinstance(value.func, cst.Name)
            and value.func.value in classes
        ):
            if not binding.in_entry and shape.entry is not None:
                continue
            klass = ctx.script.classes[value.func.value]
            instance = Instance(name, klass, binding.statement)
            _unroll(ctx, instance, value, taken)
            instances[name] = instance
            line = ctx.line(binding.statement) or 0
            for statement in instance.unrolled:
                learn_binding(ctx.script, ctx.facts, statement, line)
    return instances


def _simple(expression: cst.BaseExpression) -> bool:
    return dotted(expression) is not None or isinstance(
        expression, (cst.Integer, cst.Float, cst.SimpleString)
    )


def _self_attribute(target: cst.BaseExpression, self_name: str) -> str | None:
    if (
        isinstance(target, cst.Attribute)
        and isinstance(target.value, cst.Name)
        and target.value.value == self_name
    ):
        return target.attr.value
    return None


def mutated_attributes(klass: cst.ClassDef, self_name: str = "self") -> set[str]:
    """Attributes that methods other than __init__ assign: state that changes while training."""
    found: set[str] = set()
    for method in klass.body.body:
        if not isinstance(method, cst.FunctionDef) or method.name.value == "__init__":
            continue
        for statement in walk_statements(method.body):
            if isinstance(statement, cst.SimpleStatementLine):
                for small in statement.body:
                    targets = (
                        [t.target for t in small.targets] if isinstance(small, cst.Assign) else []
                    )
                    if isinstance(small, (cst.AugAssign, cst.AnnAssign)):
                        targets = [small.target]
                    found |= {
                        a for t in targets if (a := _self_attribute(t, self_name)) is not None
                    }
    return found


def _unroll(ctx: Ctx, instance: Instance, call: cst.Call, taken: set[str]) -> None:
    """Turn `Trainer(...).__init__` into plain assignments of the entry scope."""
    init = instance.method("__init__")
    self_name = "self"
    params: dict[str, cst.BaseExpression] = {}
    if init is not None:
        names = [p for p in [*init.params.posonly_params, *init.params.params]]
        self_name = names[0].name.value if names else "self"
        positional = names[1:]
        for index, arg in enumerate(call.args):
            if arg.star:
                ctx.refuse(
                    f"cannot follow {instance.klass.name.value}(...) called with *args/**kwargs",
                    call,
                )
            if arg.keyword is not None:
                params[arg.keyword.value] = arg.value
            elif index < len(positional):
                params[positional[index].name.value] = arg.value
        for param in [*positional, *init.params.kwonly_params]:
            if param.name.value not in params and param.default is not None:
                params[param.name.value] = param.default
    mutated = mutated_attributes(instance.klass, self_name)
    body = block_statements(init.body) if init is not None else []
    for statement in [part for s in body for part in _one_per_attribute(s, self_name)]:
        if is_docstring(statement) or _is_super_init(statement):
            continue
        attributes = {(self_name, a): v for a, v in instance.attrs.items()}
        resolved = substitute(statement, ctx.script.lines, params, attributes)
        assign = _attribute_assignment(resolved, self_name)
        if assign is None:
            if isinstance(resolved, cst.SimpleStatementLine) and all(
                is_move_statement(ctx, s) for s in resolved.body
            ):
                continue
            _check_no_self(ctx, resolved, self_name, instance, statement)
            instance.unrolled.append(resolved)
            continue
        attr, value = assign
        _check_no_self(ctx, value, self_name, instance, statement)
        unwrapped = unwrap_parallel(ctx, value)
        if unwrapped is not value:
            ctx.facts.parallel_names |= {
                n for n in [dotted(unwrapped)] if n is not None and "." not in n
            }
        value = without_moves(ctx, unwrapped)
        if attr not in mutated and _simple(value):
            instance.attrs[attr] = value
            continue
        name = fresh_name(attr, taken, "_")
        instance.unrolled.append(cst.parse_statement(f"{name} = {code(value)}"))
        instance.attrs[attr] = cst.Name(name)
    for attr in sorted(mutated - set(instance.attrs)):
        instance.attrs[attr] = cst.Name(fresh_name(attr, taken, "_"))


def _one_per_attribute(statement: cst.BaseStatement, self_name: str) -> list[cst.BaseStatement]:
    """`self.a, self.b = a, b` -> `self.a = a` and `self.b = b`; any other statement as it is."""
    small = statement.body[0] if isinstance(statement, cst.SimpleStatementLine) else None
    if not (
        isinstance(small, cst.Assign)
        and len(small.targets) == 1
        and isinstance(small.targets[0].target, cst.Tuple)
        and isinstance(small.value, cst.Tuple)
        and len(small.targets[0].target.elements) == len(small.value.elements)
    ):
        return [statement]
    pairs = zip(small.targets[0].target.elements, small.value.elements, strict=True)
    split: list[cst.BaseStatement] = []
    for target, value in pairs:
        if not isinstance(target.value, cst.Attribute):
            return [statement]
        assign = cst.Assign([cst.AssignTarget(target.value)], value.value)
        split.append(cst.SimpleStatementLine([assign]))
    if any(_attribute_assignment(s, self_name) is None for s in split):
        return [statement]
    return split


def _is_super_init(statement: cst.BaseStatement) -> bool:
    text = code(statement).strip()
    return text.startswith("super(") and text.endswith(".__init__()")


def _attribute_assignment(
    statement: cst.CSTNode, self_name: str
) -> tuple[str, cst.BaseExpression] | None:
    if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
        small = statement.body[0]
        if isinstance(small, cst.Assign) and len(small.targets) == 1:
            attr = _self_attribute(small.targets[0].target, self_name)
            if attr is not None:
                return attr, small.value
        if isinstance(small, cst.AnnAssign) and small.value is not None:
            attr = _self_attribute(small.target, self_name)
            if attr is not None:
                return attr, small.value
    return None


def _check_no_self(
    ctx: Ctx, node: cst.CSTNode, self_name: str, instance: Instance, original: cst.CSTNode
) -> None:
    if self_name in usage([node]).read:
        ctx.refuse(
            f"{instance.klass.name.value}.__init__ uses `{self_name}` in a way litgen cannot unroll "
            "(only `self.attr = value` assignments are followed)",
            original,
        )


def unroll_instances(
    ctx: Ctx,
    instances: Mapping[str, Instance],
    edits: Edits,
    trainer: str,
    after: Sequence[cst.BaseStatement],
) -> None:
    """`trainer = Trainer(...)` becomes its attributes; later `trainer.attr` reads use them.

    A trainer object still used as a whole after training is refused: nothing is left to use.
    """
    attributes: dict[tuple[str, str], cst.BaseExpression] = {}
    for instance in instances.values():
        if instance.unrolled:
            edits.put(instance.statement, instance.unrolled)
        else:
            edits.drop(instance.statement)
        attributes.update({(instance.name, attr): value for attr, value in instance.attrs.items()})
    ranks = {
        rank: cst.parse_expression(f"{trainer}.{kind}") for rank, kind in ctx.facts.ranks.items()
    }
    for statement in after:
        if statement in edits.replace or statement in edits.remove:
            continue
        rewritten = substitute(statement, ctx.script.lines, ranks, attributes)
        if code(rewritten) == code(statement):
            continue
        for name in instances:
            if name in usage([rewritten]).read:
                ctx.refuse(
                    f"`{name}` is still used after training (line {ctx.script.line(statement)}); "
                    "litgen cannot keep the trainer object",
                    statement,
                )
        edits.put(statement, [rewritten])
