"""Bind a called helper's parameters to the caller's arguments, in the entry scope's terms; a call
written as an argument is hoisted before training and evaluated once."""

from __future__ import annotations

import libcst as cst

from litgen.convert.context import Ctx
from litgen.convert.items import Env, Instance
from litgen.convert.names import _all_params, local_names, usage
from litgen.convert.rules.distributed import strip_module_attribute
from litgen.convert.structure import Shape
from litgen.convert.substitute import substitute


class CallBinder:
    """The call-binding half of the Flattener: arguments resolved in the caller's environment."""

    def __init__(self, ctx: Ctx, shape: Shape) -> None:
        self.ctx = ctx
        self.script = script = ctx.script
        self.shape = shape
        self._scopes = 0
        self.hoisted: list[cst.BaseStatement] = []
        self._region_assigned = usage([shape.region]).assigned
        self._taken = script.scope_names(script.module)
        if shape.entry is not None:
            self._taken |= script.scope_names(shape.entry.body) | {
                p.name.value for p in _all_params(shape.entry.params)
            }

    def resolve(self, node: cst.CSTNode, env: Env) -> cst.CSTNode:
        resolved = substitute(node, self.script.lines, env.mapping(), env.attributes())
        resolved = strip_module_attribute(resolved, self.ctx.facts.parallel_names)
        if env.self_name is not None and env.self_name in usage([resolved]).read:
            klass = env.instance.klass.name.value if env.instance else "the class"
            self.script.refuse(
                f"`{env.self_name}` is used inside an expression in {klass}.{env.label}() (a method call or an "
                "attribute litgen cannot follow); litgen inlines methods called as statements",
                node,
            )
        return resolved

    def resolve_statement(self, node: cst.CSTNode, env: Env) -> cst.BaseStatement:
        resolved = self.resolve(node, env)
        assert isinstance(resolved, cst.BaseStatement), type(resolved).__name__
        return resolved

    def resolve_expression(self, node: cst.CSTNode, env: Env) -> cst.BaseExpression:
        resolved = self.resolve(node, env)
        assert isinstance(resolved, cst.BaseExpression), type(resolved).__name__
        return resolved

    def resolve_target(self, node: cst.CSTNode, env: Env) -> cst.BaseAssignTargetExpression:
        resolved = self.resolve(node, env)
        assert isinstance(resolved, cst.BaseAssignTargetExpression), type(resolved).__name__
        return resolved

    def _bind(
        self, callee: cst.FunctionDef, call: cst.Call, caller: Env, hoist: bool = True
    ) -> dict[str, cst.BaseExpression]:
        """Parameter -> argument expression (entry-scope terms) for one call."""
        params = [
            *callee.params.posonly_params,
            *callee.params.params,
            *callee.params.kwonly_params,
        ]
        if isinstance(callee.params.star_arg, cst.Param) or isinstance(
            callee.params.star_kwarg, cst.Param
        ):
            self.script.refuse(
                f"cannot follow {callee.name.value}() because it takes *args/**kwargs", callee
            )
        positional = [*callee.params.posonly_params, *callee.params.params]
        if self.script.enclosing_class(callee) is not None and positional:
            params = params[1:]  # `self` is bound to the trainer object, not to an argument
            positional = positional[1:]
        bound: dict[str, cst.BaseExpression] = {}
        for index, arg in enumerate(call.args):
            if arg.star:
                self.script.refuse(
                    f"cannot follow the call to {callee.name.value}() with *args/**kwargs", call
                )
            if arg.keyword is not None:
                bound[arg.keyword.value] = arg.value
            elif index < len(positional):
                bound[positional[index].name.value] = arg.value
        for param in params:
            name = param.name.value
            if name not in bound:
                if param.default is None:
                    self.script.refuse(
                        f"the call to {callee.name.value}() does not pass `{name}`", call
                    )
                bound[name] = param.default
        resolved = {name: self.resolve_expression(value, caller) for name, value in bound.items()}
        if hoist:
            for name, value in resolved.items():
                if self._hoistable(value):
                    resolved[name] = self._hoist(name, value)
        return resolved

    def _hoistable(self, value: cst.CSTNode) -> bool:
        """A call written as an argument (`train(model, nn.L1Loss())`) that does not change during the loop."""
        if not isinstance(value, cst.Call):
            return False
        reads = usage([value]).read
        return not any(name in self.ctx.symbols or name in self._region_assigned for name in reads)

    def _hoist(self, name: str, value: cst.BaseExpression) -> cst.Name:
        """Evaluate the argument once before training, as `name = value`, and pass the name instead."""
        candidate, number = name, 1
        while candidate in self._taken:
            number += 1
            candidate = f"{name}_{number}"
        self._taken.add(candidate)
        self.hoisted.append(
            cst.parse_statement(f"{candidate} = {cst.Module([]).code_for_node(value)}")
        )
        return cst.Name(candidate)

    def _callee_env(
        self, callee: cst.FunctionDef, call: cst.Call, caller: Env, instance: Instance | None
    ) -> Env:
        params = self._bind(callee, call, caller)
        self._scopes += 1
        names = {p.name.value for p in _all_params(callee.params)}
        stand_ins = {
            local: self.ctx.symbols.local(local, callee.name.value)
            for local in sorted(local_names(callee) - names)
        }
        env = Env(self._scopes, callee.name.value, callee, params, stand_ins)
        if instance is not None:
            positional = [*callee.params.posonly_params, *callee.params.params]
            env.self_name = positional[0].name.value if positional else "self"
            env.instance = instance
        return env
