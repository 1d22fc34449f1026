"""Rebuild the script's optimizers and schedulers inside `configure_optimizers`, with scalar hyper-parameters.

Lightning wants the module to create its optimizers itself: sharded strategies (FSDP, DeepSpeed)
wrap the model first and only then build the optimizer, and `load_from_checkpoint` rebuilds the
module from its saved hyper-parameters. So each optimizer and Lightning-stepped scheduler is
rebuilt from the script's own expression: a model becomes `self.<model>`, a scalar variable or an
argparse option becomes a constructor argument read as `self.hparams.<name>`. Where that cannot be
done faithfully (the object is used outside the loop, or built from something that is neither a
model nor a number), the script's object is handed to the module as before, with a review note.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import libcst as cst

from litgen.convert.context import Ctx, Schedule
from litgen.convert.facts import Binding, is_argparse_namespace
from litgen.convert.names import call_name, code, root_name, usage
from litgen.convert.rebuild_options import NotRebuilt, attributes_of, options_read
from litgen.convert.substitute import substitute

_SCALAR_CALLS = ("int", "float", "round", "str", "bool", "min", "max", "abs")
_BUILTINS = frozenset(dir(builtins))


@dataclass(frozen=True)
class HParam:
    """A constructor argument saved with `save_hyperparameters`: its name and what the script passes."""

    name: str
    value: cst.BaseExpression


@dataclass(frozen=True)
class Rebuilt:
    """What `configure_optimizers` builds, and how the rest of the module refers to it."""

    objects: tuple[
        str, ...
    ] = ()  # the script's optimizer and scheduler variables the module now builds
    hparams: tuple[HParam, ...] = ()
    statements: tuple[cst.BaseStatement, ...] = ()  # the body of configure_optimizers
    # script name -> hook expression
    in_hooks: Mapping[str, cst.BaseExpression] = field(default_factory=dict)
    # args.lr
    in_hook_attributes: Mapping[tuple[str, str], cst.BaseExpression] = field(default_factory=dict)
    retired: tuple[str, ...] = ()  # script names that stop being constructor arguments
    reason: str | None = None  # why the script's objects are handed over instead


@dataclass(frozen=True)
class Scope:
    """What the rebuild may refer to: the module's attributes for models, and code outside the loop."""

    attrs: Mapping[str, str]  # script name -> attribute of the LightningModule
    ctor: tuple[str, ...]  # the constructor arguments the hooks need, in order
    state: frozenset[str]  # variables the hooks assign (never hyper-parameters)
    hook_bodies: tuple[cst.BaseStatement, ...]  # every hook's statements, in the script's names
    hook_globals: tuple[str, ...]  # module-level variables the hooks read directly
    models: frozenset[str]
    outside_reads: Mapping[
        str, int
    ]  # variable -> first line that reads it outside the training loop
    defined: frozenset[str]  # module-level defs, classes and imports (readable from the class)
    aliases: Mapping[str, str] = field(default_factory=dict)  # `ddp_model` -> `model`
    # `def main(epochs=2)`
    entry_defaults: Mapping[str, cst.BaseExpression] = field(default_factory=dict)
    # `epochs * len(train_loader)`, when every epoch runs every batch once: Lightning's own count of
    # steps
    total_steps: tuple[str, str] | None = None


def rebuild(
    ctx: Ctx, optimizers: Sequence[str], schedules: Sequence[Schedule], scope: Scope, manual: bool
) -> Rebuilt:
    """Plan `configure_optimizers` from the script's own expressions, or say why the objects are handed over.

    Either way, scalar constructor arguments and the argparse options the hooks read become
    hyper-parameters.
    """
    planner = _Planner(ctx, scope)
    try:
        built = planner.plan(list(optimizers), list(schedules), manual)
    except NotRebuilt as refused:
        planner = _Planner(ctx, scope)  # the optimizer's hyper-parameters go with it
        built = Rebuilt(reason=str(refused))
    names, attributes, retired = planner.hook_hparams()
    return Rebuilt(
        objects=built.objects,
        hparams=tuple(planner.hparams.values()),
        statements=built.statements,
        in_hooks={**built.in_hooks, **names},
        in_hook_attributes=attributes,
        retired=(*built.objects, *retired),
        reason=built.reason,
    )


class _Planner:
    def __init__(self, ctx: Ctx, scope: Scope) -> None:
        self.ctx = ctx
        self.scope = scope
        self.hparams: dict[str, HParam] = {}
        self.by_source: dict[str, str] = {}  # code of what the script passes -> hparam name

    def plan(self, optimizers: list[str], schedules: list[Schedule], manual: bool) -> Rebuilt:
        facts = self.ctx.facts
        # a scheduler the hooks step themselves must wrap the optimizer Lightning steps: the
        # script's own
        stray = [
            name
            for name in facts.schedulers
            if name in self.scope.attrs and name not in {s.name for s in schedules}
        ]
        if stray:
            raise NotRebuilt(
                f"the scheduler `{stray[0]}` is stepped by the script's own code, not by Lightning"
            )
        schedules = [] if manual else schedules
        objects = [*optimizers, *(s.name for s in schedules)]
        bindings = {name: self._binding(name) for name in objects}
        for name in objects:
            if name in self.scope.outside_reads:
                line = self.scope.outside_reads[name]
                raise NotRebuilt(f"`{name}` is also used outside the training loop (line {line})")
        locals_ = set(objects)
        values = {name: self._rewrite(bindings[name].value, locals_, name) for name in objects}
        statements = self._statements(optimizers, schedules, values)
        return Rebuilt(
            tuple(objects), (), tuple(statements), self._hook_references(optimizers, schedules)
        )

    def hook_hparams(
        self,
    ) -> tuple[dict[str, cst.BaseExpression], dict[tuple[str, str], cst.BaseExpression], list[str]]:
        """Scalars and argparse options the hooks read: `self.hparams.x` instead of constructor attributes."""
        names: dict[str, cst.BaseExpression] = {}
        attributes: dict[tuple[str, str], cst.BaseExpression] = {}
        retired: list[str] = []
        for name in [*self.scope.ctor, *self.scope.hook_globals]:
            if name in self.scope.state:
                continue
            if self._is_namespace(name):
                options = options_read(self.scope.hook_bodies, name)
                if options is None:
                    continue
                for option in options:
                    hparam = self._hparam(option, cst.parse_expression(f"{name}.{option}"))
                    attributes[(name, option)] = cst.parse_expression(f"self.hparams.{hparam}")
                retired.append(name)
            elif self._is_scalar(name):
                names[name] = cst.parse_expression(
                    f"self.hparams.{self._hparam(name, cst.Name(name))}"
                )
                retired.append(name)
        # a scalar the optimizer already made a hyper-parameter is read the same way in the hooks
        for saved in self.hparams.values():
            source = saved.value.value if isinstance(saved.value, cst.Name) else None
            if source is not None and source in (*self.scope.ctor, *self.scope.hook_globals):
                if source not in self.scope.state and source not in names:
                    names[source] = cst.parse_expression(f"self.hparams.{saved.name}")
                    retired.append(source)
        return names, attributes, retired

    def _binding(self, name: str) -> Binding:
        facts = self.ctx.facts
        binding = facts.optimizers.get(name) or facts.schedulers.get(name)
        if (
            binding is None
            or not facts.bound_before(name)
            or len(facts.bindings.get(name, [])) != 1
        ):
            raise NotRebuilt(f"`{name}` is not created once before the training loop")
        return binding

    # --- expressions ----------------------------------------------------------------------------
    def _rewrite(
        self, value: cst.BaseExpression, locals_: set[str], owner: str
    ) -> cst.BaseExpression:
        mapping: dict[str, cst.BaseExpression] = {}
        attributes: dict[tuple[str, str], cst.BaseExpression] = {}
        if self.scope.total_steps is not None:
            visited = value.visit(_TotalSteps(*self.scope.total_steps))
            assert isinstance(visited, cst.BaseExpression)
            value = visited
        for name in usage([value]).free:
            if name in locals_ or name in self.scope.defined or name == "self":
                continue
            if name in _BUILTINS and name not in self.ctx.facts.bindings:
                continue
            model = self.scope.aliases.get(name, name)
            if model in self.scope.models and model in self.scope.attrs:
                mapping[name] = cst.parse_expression(f"self.{self.scope.attrs[model]}")
            elif self._is_namespace(name):
                for attr in attributes_of(value, name, owner):
                    hparam = self._hparam(attr, cst.parse_expression(f"{name}.{attr}"))
                    attributes[(name, attr)] = cst.parse_expression(f"self.hparams.{hparam}")
            elif self._is_scalar(name):
                mapping[name] = cst.parse_expression(
                    f"self.hparams.{self._hparam(name, cst.Name(name))}"
                )
            else:
                raise NotRebuilt(
                    f"`{owner}` is built from `{name}`, which is neither a model of the module nor a number or option"
                )
        return substitute(value, self.ctx.script.lines, mapping, attributes)

    def _hparam(self, wanted: str, source: cst.BaseExpression) -> str:
        key = code(source)
        if key in self.by_source:
            return self.by_source[key]
        name = wanted.lower() if wanted.isupper() else wanted
        taken = {*self.hparams, *self.scope.attrs.values(), *self.scope.attrs}
        candidate, number = name, 1
        while candidate in taken and not (
            isinstance(source, cst.Name) and source.value == candidate
        ):
            number += 1
            candidate = f"{name}_{number}"
        self.hparams[candidate] = HParam(candidate, source)
        self.by_source[key] = candidate
        return candidate

    def _is_namespace(self, name: str) -> bool:
        """`args = parser.parse_args()` (or `args, _ = parser.parse_known_args()`)."""
        binding = self.ctx.facts.last(name)
        return is_argparse_namespace(binding.value if binding is not None else None)

    def _is_scalar(self, name: str, depth: int = 0) -> bool:
        facts = self.ctx.facts
        if (
            name in facts.modules
            or name in facts.optimizers
            or name in facts.schedulers
            or depth > 4
        ):
            return False
        bindings = facts.bindings.get(name, [])
        if not bindings:
            default = self.scope.entry_defaults.get(name)
            return default is not None and self._scalar_value(default, depth)
        return all(self._scalar_value(b.value, depth) for b in bindings)

    def _scalar_value(self, value: cst.BaseExpression, depth: int) -> bool:
        if isinstance(value, (cst.Integer, cst.Float, cst.SimpleString, cst.Imaginary)):
            return True
        if isinstance(value, cst.Name):
            return value.value in ("True", "False", "None") or self._is_scalar(
                value.value, depth + 1
            )
        if isinstance(value, cst.Tuple):
            return all(self._scalar_value(e.value, depth) for e in value.elements)
        if isinstance(value, cst.UnaryOperation):
            return self._scalar_value(value.expression, depth)
        if isinstance(value, cst.BinaryOperation):
            return self._scalar_value(value.left, depth) and self._scalar_value(value.right, depth)
        if isinstance(value, cst.Attribute):
            root = root_name(value)
            return root is not None and self._is_namespace(root)
        if (
            isinstance(value, cst.Call)
            and call_name(value) in _SCALAR_CALLS
            and isinstance(value.func, cst.Name)
        ):
            return all(self._scalar_value(a.value, depth) for a in value.args)
        return False

    # --- output ---------------------------------------------------------------------------------
    def _statements(
        self,
        optimizers: list[str],
        schedules: list[Schedule],
        values: dict[str, cst.BaseExpression],
    ) -> list[cst.BaseStatement]:
        if not schedules:
            if len(optimizers) == 1:
                return [cst.parse_statement(f"return {code(values[optimizers[0]])}")]
            lines = [f"{name} = {code(values[name])}" for name in optimizers]
            return [
                *(cst.parse_statement(line) for line in lines),
                cst.parse_statement(f"return [{', '.join(optimizers)}]"),
            ]
        lines = [
            f"{name} = {code(values[name])}" for name in [*optimizers, *(s.name for s in schedules)]
        ]
        configs = [_scheduler_config(s) for s in schedules]
        if len(configs) == 1 and len(optimizers) == 1:
            indent = "    "
            result = f'return {{\n{indent}"optimizer": {optimizers[0]},\n{indent}"lr_scheduler": {configs[0]},\n}}'
        else:
            result = f"return [{', '.join(optimizers)}], [{', '.join(configs)}]"
        return [*(cst.parse_statement(line) for line in lines), cst.parse_statement(result + "\n")]

    def _hook_references(
        self, optimizers: list[str], schedules: list[Schedule]
    ) -> dict[str, cst.BaseExpression]:
        found: dict[str, cst.BaseExpression] = {}
        for index, name in enumerate(optimizers):
            found[name] = cst.parse_expression(
                "self.optimizers()" + (f"[{index}]" if len(optimizers) > 1 else "")
            )
        for index, schedule in enumerate(schedules):
            suffix = f"[{index}]" if len(schedules) > 1 else ""
            found[schedule.name] = cst.parse_expression(f"self.lr_schedulers(){suffix}")
        return found


def _scheduler_config(schedule: Schedule) -> str:
    parts = [f'"scheduler": {schedule.name}', f'"interval": "{schedule.interval}"']
    if schedule.monitor:
        parts.append(f'"monitor": "{schedule.monitor}"')
    return "{" + ", ".join(parts) + "}"


class _TotalSteps(cst.CSTTransformer):
    """`epochs * len(loader)` (either order) -> `self.trainer.estimated_stepping_batches`."""

    def __init__(self, epochs: str, loader: str) -> None:
        self.epochs = epochs
        self.loader = f"len({loader})"

    def leave_BinaryOperation(
        self, original_node: cst.BinaryOperation, updated_node: cst.BinaryOperation
    ) -> cst.BaseExpression:
        if not isinstance(updated_node.operator, cst.Multiply):
            return updated_node
        sides = {
            code(updated_node.left.with_changes(lpar=[], rpar=[])),
            code(updated_node.right.with_changes(lpar=[], rpar=[])),
        }
        if sides == {self.epochs, self.loader}:
            return cst.parse_expression("self.trainer.estimated_stepping_batches")
        return updated_node
