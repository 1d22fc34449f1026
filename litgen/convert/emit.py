"""Build the LightningModule class and the `Trainer(...).fit(...)` statements as libcst nodes."""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst
import libcst.matchers as m

from litgen.convert.context import Ctx, TrainerOption, review
from litgen.convert.names import code
from litgen.convert.plan import HOOK_ORDER, ModulePlan, Names
from litgen.convert.rebuild import Rebuilt
from litgen.convert.render import Layout, Renderer
from litgen.convert.rules.device import moved_before_training
from litgen.convert.rules.tensor_types import (
    DeviceAgnosticTypes,
    only_self_assignments,
    tensor_aliases,
)
from litgen.convert.scale import HELPER, helper_method, make_process_correct

MAX_LINE = 100


def _method(
    name: str, params: list[str], statements: Sequence[cst.BaseStatement]
) -> cst.FunctionDef:
    signature = ", ".join(["self", *params])
    template = cst.parse_statement(f"def {name}({signature}):\n    pass\n")
    assert isinstance(template, cst.FunctionDef)
    body = [s.visit(_BareBlankLines()) for s in statements] or [
        cst.SimpleStatementLine([cst.Pass()])
    ]
    lines = [s for s in body if isinstance(s, (cst.SimpleStatementLine, cst.BaseCompoundStatement))]
    # no blank first line
    lines[0] = lines[0].with_changes(leading_lines=_comments_only(lines[0].leading_lines))
    return template.with_changes(
        body=cst.IndentedBlock(body=lines), leading_lines=[cst.EmptyLine(indent=False)]
    )


def _visited(statement: cst.BaseStatement, transformer: cst.CSTTransformer) -> cst.BaseStatement:
    result = statement.visit(transformer)
    # the transformers used here rewrite expressions only
    assert isinstance(result, cst.BaseStatement)
    return result


class _BareBlankLines(cst.CSTTransformer):
    """Blank lines carry no indentation (a moved statement keeps its blank line, not trailing spaces)."""

    def leave_EmptyLine(
        self, original_node: cst.EmptyLine, updated_node: cst.EmptyLine
    ) -> cst.EmptyLine:
        if updated_node.comment is None:
            return updated_node.with_changes(indent=False, whitespace=cst.SimpleWhitespace(""))
        return updated_node


def _comments_only(lines: Sequence[cst.EmptyLine]) -> list[cst.EmptyLine]:
    return [line for line in lines if line.comment is not None]


def _statements(text: str) -> list[cst.BaseStatement]:
    return list(cst.parse_module(text).body)


def _call(head: str, args: list[str], indent: str) -> str:
    """`head(a, b)` on one line when it fits, else one argument per line."""
    single = f"{head}({', '.join(args)})"
    if len(indent) + len(single) <= MAX_LINE or not args:
        return single
    # libcst indents continuation lines by the enclosing block, so they are written relative to it
    return f"{head}(\n" + "".join(f"    {a},\n" for a in args) + ")"


class Emitter:
    def __init__(
        self,
        ctx: Ctx,
        plan: ModulePlan,
        renderer: Renderer,
        layout: Layout,
        names: Names,
        indent: str,
        rebuilt: Rebuilt,
    ) -> None:
        self.ctx = ctx
        self.rebuilt = rebuilt
        self.plan = plan
        self.renderer = renderer
        self.layout = layout
        self.names = names
        self.indent = indent

    # --- the LightningModule ------------------------------------------------------------------
    def module_class(self, source_name: str) -> cst.ClassDef:
        attrs = self.layout.attrs
        init_body = ["super().__init__()"]
        for name in self.layout.ctor:
            # follows the module to its device; not saved in checkpoints
            if name in self.layout.buffers:
                init_body.append(f'self.register_buffer("{attrs[name]}", {name}, persistent=False)')
            else:
                init_body.append(f"self.{attrs[name]} = {name}")
        hparams = [h.name for h in self.rebuilt.hparams]
        if hparams:
            ignored = ", ".join(f'"{name}"' for name in self.layout.ctor)
            init_body.append(
                f"self.save_hyperparameters(ignore=[{ignored}])"
                if ignored
                else "self.save_hyperparameters()"
            )
        if self.plan.manual:
            init_body.append("self.automatic_optimization = False")
        init = [cst.parse_statement(line) for line in init_body]
        methods = [_method("__init__", [*self.layout.ctor, *hparams], init)]
        models = [m for m in self.ctx.facts.models if m in attrs]
        if len(models) == 1:
            forward = cst.parse_statement(f"return self.{attrs[models[0]]}(*args, **kwargs)")
            methods.append(_method("forward", ["*args", "**kwargs"], [forward]))
        rendered = {method.name: self.renderer.render(method) for method in self.plan.ordered()}
        scaled = make_process_correct(
            {name: body for name, (_, body) in rendered.items()},
            {attrs[name] for name in [*self.layout.copy_back, *self.layout.copy_back_after_test]},
            print_shadowed=self._print_is_rebound(),
            torch_alias=self._torch_alias(),
        )
        typed = self._device_agnostic_types()
        for name in HOOK_ORDER:
            if name not in scaled.bodies:
                continue
            params = rendered[name][0] if name in rendered else self.plan.signature(name)
            body = (
                [
                    v
                    for s in scaled.bodies[name]
                    if not only_self_assignments(v := _visited(s, typed))
                ]
                if typed
                else scaled.bodies[name]
            )
            notes = [*self.ctx.review_notes.get(name, []), *scaled.notes.get(name, ())]
            if notes and body:
                body[0] = review(body[0], notes)
            methods.append(_method(name, params, body))
        configure = (
            list(self.rebuilt.statements) if self.rebuilt.objects else self._configure_optimizers()
        )
        if self.ctx.review_notes.get("configure_optimizers"):
            configure[0] = review(configure[0], self.ctx.review_notes["configure_optimizers"])
        methods.append(_method("configure_optimizers", [], configure))
        if scaled.uses_helper:
            methods.append(_method(HELPER, ["value"], helper_method(self._torch_alias())))
        docstring = cst.parse_statement(
            f'"""LightningModule generated by litgen from the training loop of {source_name}."""'
        )
        template = cst.parse_statement(
            f"class {self.names.module_class}({self.names.lightning}.LightningModule):\n    pass\n"
        )
        assert isinstance(template, cst.ClassDef)
        methods[0] = methods[0].with_changes(leading_lines=[cst.EmptyLine(indent=False)])
        block = cst.IndentedBlock(body=[docstring, *methods])
        return template.with_changes(
            body=block, leading_lines=[cst.EmptyLine(indent=False), cst.EmptyLine(indent=False)]
        )

    def _print_is_rebound(self) -> bool:
        """`print` means the builtin unless the script imports, defines or assigns that name."""
        if "print" in self.ctx.imports.aliases:
            return True
        script = self.ctx.script
        if any(d.name.value == "print" for d in script.nodes_of(cst.FunctionDef)):
            return True
        return any(m.matches(t.target, m.Name("print")) for t in script.nodes_of(cst.AssignTarget))

    def _device_agnostic_types(self) -> DeviceAgnosticTypes | None:
        torch = self._torch_alias()
        if torch is None:
            return None
        return DeviceAgnosticTypes(
            self.ctx.imports, tensor_aliases(self.ctx.imports, self.ctx.facts), torch
        )

    def _torch_alias(self) -> str | None:
        return next(
            (local for local, full in self.ctx.imports.aliases.items() if full == "torch"), None
        )

    def _configure_optimizers(self) -> list[cst.BaseStatement]:
        attrs = self.layout.attrs
        optimizers = [f"self.{attrs[o]}" for o in self.plan.optimizers]
        if self.plan.manual or not self.ctx.schedules:
            value = optimizers[0] if len(optimizers) == 1 else "[" + ", ".join(optimizers) + "]"
            return [cst.parse_statement(f"return {value}")]
        configs = []
        for schedule in self.ctx.schedules:
            parts = [
                f'"scheduler": self.{attrs[schedule.name]}',
                f'"interval": "{schedule.interval}"',
            ]
            if schedule.monitor:
                parts.append(f'"monitor": "{schedule.monitor}"')
            configs.append("{" + ", ".join(parts) + "}")
        if len(configs) == 1:
            inner = self.indent
            text = (
                "return {\n"
                f'{inner}"optimizer": {optimizers[0]},\n'
                f'{inner}"lr_scheduler": {configs[0]},\n'
                "}"
            )
        else:
            text = f"return [{optimizers[0]}], [" + ", ".join(configs) + "]"
        return [cst.parse_statement(text + "\n")]

    # --- the entry point ----------------------------------------------------------------------
    def trainer_arguments(self) -> list[str]:
        args = [f"max_epochs={code(self.plan.max_epochs or cst.Integer('1'))}"]
        conditional: list[tuple[TrainerOption, cst.BaseExpression]] = []
        for option in self.ctx.trainer:
            if option.condition is not None:
                conditional.append((option, option.condition))
            else:
                args.append(f"{option.key}={code(option.value)}")
        if self.plan.validation is not None and any(
            name in self.plan.methods
            for name in ("on_validation_epoch_start", "on_validation_epoch_end")
        ):
            args.append("num_sanity_val_steps=0")
        for option, condition in conditional:
            args.append(
                f'**({{"{option.key}": {code(option.value)}}} if {code(condition)} else {{}})'
            )
        return args

    def entry_statements(self, indent: str) -> list[cst.BaseStatement]:
        names = self.names
        ctor_args = [
            *self.layout.ctor,
            *(f"{h.name}={code(h.value)}" for h in self.rebuilt.hparams),
        ]
        lines = [f"{names.instance} = " + _call(names.module_class, ctor_args, indent)]
        lines.append(
            f"{names.trainer} = "
            + _call(f"{names.lightning}.Trainer", self.trainer_arguments(), indent)
        )
        fit_args = [
            names.instance,
            code(self.plan.train_loader) if self.plan.train_loader is not None else "None",
        ]
        if self.plan.validation is not None:
            fit_args.append(code(self.plan.validation.loader))
        lines.append(_call(f"{names.trainer}.fit", fit_args, indent))
        for name in self.layout.copy_back:
            lines.append(f"{name} = {names.instance}.{self.layout.attrs[name]}")
        lines += self._back_on_the_scripts_device()
        if self.plan.epoch_var and self.plan.epoch_var in self.renderer.after_reads:
            start = f" + {code(self.plan.epoch_start)}" if self.plan.epoch_start is not None else ""
            lines.append(f"{self.plan.epoch_var} = {names.trainer}.current_epoch - 1{start}")
        statements = _statements("\n".join(lines) + "\n")
        if self.ctx.review_notes.get("trainer"):
            statements[1] = review(statements[1], self.ctx.review_notes["trainer"])
        if self.plan.full_batch:
            comment = cst.EmptyLine(
                comment=cst.Comment(
                    "# litgen: full-batch training: each epoch is one step over a one-item range"
                )
            )
            statements[2] = statements[2].with_changes(leading_lines=[comment])
        return statements

    def _back_on_the_scripts_device(self) -> list[str]:
        """Lightning returns the model on the CPU; code after training that uses `device` expects it there."""
        after, facts = self.renderer.after_reads, self.ctx.facts
        devices = [
            name for name in sorted(facts.devices) if name in after and facts.bound_before(name)
        ]
        if len(devices) != 1:
            return []
        moved = moved_before_training(self.ctx, devices[0])
        return [
            f"{model}.to({devices[0]})"
            for model in facts.models
            if model in after and model in moved
        ]

    def test_statements(self) -> list[cst.BaseStatement]:
        assert self.plan.test is not None
        text = f"{self.names.trainer}.test({self.names.instance}, {code(self.plan.test.loader)})\n"
        text += "".join(f"{line}\n" for line in self._back_on_the_scripts_device())
        for name in self.layout.copy_back_after_test:
            text += f"{name} = {self.names.instance}.{self.layout.attrs[name]}\n"
        return _statements(text)
