"""Decide where each variable of the moved code lives (method local, `self.x`, constructor argument) and rename."""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from litgen.convert.context import Ctx
from litgen.convert.names import code, dotted, usage
from litgen.convert.plan import FAMILY, Method, ModulePlan
from litgen.convert.rebuild import Rebuilt
from litgen.convert.reserved import LIGHTNING_MODULE_NAMES
from litgen.convert.substitute import substitute

LOADER_ACCESSORS = {
    "train": "self.trainer.train_dataloader",
    "val": "self.trainer.val_dataloaders",
    "test": "self.trainer.test_dataloaders",
}


@dataclass
class Layout:
    """Where names go: constructor arguments, attributes, state shared between hooks, copies back."""

    attrs: dict[str, str] = field(default_factory=dict)
    ctor: list[str] = field(default_factory=list)
    state: set[str] = field(default_factory=set)
    copy_back: list[str] = field(default_factory=list)
    copy_back_after_test: list[str] = field(default_factory=list)
    buffers: set[str] = field(default_factory=set)  # constant tensors registered as buffers


class Renderer:
    def __init__(
        self, ctx: Ctx, plan: ModulePlan, entry_is_module: bool, after_reads: set[str]
    ) -> None:
        self.ctx = ctx
        self.plan = plan
        self.symbols = ctx.symbols
        self.entry_is_module = entry_is_module
        self.after_reads = after_reads
        self.layout = Layout()
        self._free: dict[str, list[str]] = {}
        self._rebuilt: dict[
            str, cst.BaseExpression
        ] = {}  # optimizers and hparams configure_optimizers owns
        self._rebuilt_attributes: dict[
            tuple[str, str], cst.BaseExpression
        ] = {}  # `args.lr` -> `self.hparams.lr`
        self._assigned: dict[str, set[str]] = {}

    # --- analysis -----------------------------------------------------------------------------
    def _specials(self) -> set[str]:
        facts = self.ctx.facts
        names = (
            set(facts.devices)
            | {self.symbols.device, "self"}
            | set(facts.optimizers)
            | set(facts.schedulers)
        )
        names |= set(facts.ranks)
        if self.plan.epoch_var:
            names.add(self.plan.epoch_var)
        return names

    def analyze(self) -> Layout:
        methods = self.plan.ordered()
        for method in methods:
            statements = list(method.body)
            if method.returns is not None:
                statements.append(cst.SimpleStatementLine([cst.Return(method.returns)]))
            names = usage(statements)
            params = set(method.params())
            self._free[method.name] = [n for n in names.free if n not in params]
            self._assigned[method.name] = names.assigned
        free_anywhere = [n for m in methods for n in self._free[m.name]]
        if self.plan.epoch_var and self.plan.epoch_start is not None:
            if any(self.plan.epoch_var in self._free[m.name] for m in methods):
                free_anywhere += usage(
                    [self.plan.epoch_start]
                ).free  # `self.current_epoch + start_epoch`
        written = set().union(*self._assigned.values()) if self._assigned else set()
        specials = self._specials()
        if self.plan.epoch_var and self.plan.epoch_var in written:
            self.ctx.refuse(
                f"the loop assigns the epoch variable `{self.plan.epoch_var}`; Lightning counts epochs itself",
                line=None,
            )
        state = {
            n
            for n in written
            if (n in free_anywhere or n in self.after_reads) and n not in specials
        }
        self.layout.state = state
        facts = self.ctx.facts
        ctor: list[str] = []
        wanted = [*facts.models, *self.plan.optimizers, *[s.name for s in self.ctx.schedules]]
        wanted += [n for n in facts.schedulers if n in free_anywhere]
        wanted += [
            n
            for n in free_anywhere
            if n not in specials or n in facts.optimizers or n in facts.schedulers
        ]
        for name in wanted:
            if (
                name in ctor
                or name in ("self", self.symbols.device)
                or name in facts.devices
                or name == self.plan.epoch_var
            ):
                continue
            if name in facts.ranks or name in facts.samplers:
                continue
            if name in self._loader_names():
                continue
            if self._is_ctor_value(name, state):
                ctor.append(name)
        self.layout.ctor = ctor
        for name in [*ctor, *sorted(state - set(ctor), key=self.symbols.order)]:
            self.layout.attrs[name] = self._attribute_name(name)
        copied = [n for n in sorted(state) if n in self.after_reads]
        tested = {n for m in methods if FAMILY[m.name] == "test" for n in self._assigned[m.name]}
        trained = {n for m in methods if FAMILY[m.name] != "test" for n in self._assigned[m.name]}
        self.layout.copy_back = [n for n in copied if n in trained or n not in tested]
        self.layout.copy_back_after_test = [n for n in copied if n in tested and n not in trained]
        return self.layout

    def _is_ctor_value(self, name: str, state: set[str]) -> bool:
        facts = self.ctx.facts
        if name in facts.modules or name in facts.optimizers or name in facts.schedulers:
            return facts.bound_before(name)
        if not facts.bound_before(name):
            return False
        if name in state:
            return True
        return not self.entry_is_module and name in facts.entry_locals

    def _attribute_name(self, name: str) -> str:
        base = self.symbols.readable(name)
        taken = set(self.layout.attrs.values())
        candidates = [base]
        label = self.symbols.owner(name)
        if label:
            candidates.append(f"{label}_{base}")
        for candidate in candidates:
            if candidate not in taken and candidate not in LIGHTNING_MODULE_NAMES:
                return candidate
        number = 1
        while True:
            candidate = f"{base}_{number}" if number > 1 else f"{base}_"
            if candidate not in taken and candidate not in LIGHTNING_MODULE_NAMES:
                return candidate
            number += 1

    def _loader_names(self) -> dict[str, str]:
        """Loader variables -> the hook family whose Trainer accessor replaces them."""
        loaders: dict[str, str] = {}
        for family, loader in (
            ("test", self.plan.test.loader if self.plan.test else None),
            ("val", self.plan.validation.loader if self.plan.validation else None),
            ("train", self.plan.train_loader),
        ):
            name = dotted(loader) if loader is not None else None
            if name is not None and "." not in name:
                loaders[name] = family
        return loaders

    def globals_read(self) -> list[str]:
        """Module-level variables the hooks read as globals (not handed to the constructor)."""
        facts = self.ctx.facts
        found: list[str] = []
        for names in self._free.values():
            for name in names:
                if name in found or name in self.layout.attrs or name in self._specials():
                    continue
                if self.entry_is_module and facts.bound_before(name) and name not in facts.modules:
                    found.append(name)
        return found

    def adopt_buffers(self, names: list[str]) -> None:
        """Tensors the hooks read become constructor arguments registered as buffers."""
        for name in names:
            if name not in self.layout.ctor:
                self.layout.ctor.append(name)
                self.layout.attrs[name] = self._attribute_name(name)
            self.layout.buffers.add(name)

    def use_rebuilt(self, rebuilt: Rebuilt) -> None:
        """The module builds these objects itself: they stop being constructor arguments."""
        self._rebuilt = dict(rebuilt.in_hooks)
        self._rebuilt_attributes = dict(rebuilt.in_hook_attributes)
        gone = set(rebuilt.retired)
        self.layout.ctor = [name for name in self.layout.ctor if name not in gone]
        for name in gone:
            self.layout.attrs.pop(name, None)

    # --- renaming -----------------------------------------------------------------------------
    def mapping_for(self, method: Method) -> dict[str, cst.BaseExpression]:
        mapping: dict[str, cst.BaseExpression] = {}
        for name, attr in self.layout.attrs.items():
            mapping[name] = cst.parse_expression(f"self.{attr}")
        for name in [*self.ctx.facts.devices, self.symbols.device]:
            mapping[name] = cst.parse_expression("self.device")
        for name, kind in self.ctx.facts.ranks.items():
            mapping[name] = cst.parse_expression(f"self.{kind}")
        if self.plan.epoch_var:
            start = self.plan.epoch_start
            if start is not None:
                start = substitute(start, self.ctx.script.lines, dict(mapping))
            text = "self.current_epoch" + (f" + {code(start)}" if start is not None else "")
            mapping[self.plan.epoch_var] = cst.parse_expression(text)
        family = FAMILY[method.name]
        for name, loader_family in self._loader_names().items():
            if (
                loader_family == family
                and family in LOADER_ACCESSORS
                and name not in self.layout.attrs
            ):
                mapping[name] = cst.parse_expression(LOADER_ACCESSORS[family])
        for name, expression in self._rebuilt.items():
            mapping.setdefault(name, expression)
        if self.plan.manual and method.name == "training_step":
            for name in self.plan.optimizers:
                mapping.pop(name, None)
        for old, new in self._parameter_renames(method).items():
            # a name litgen made up goes
            if old == method.index or old not in self.ctx.script.all_names:
                mapping[old] = cst.Name(new)
        used = usage(method.body).read | usage(method.body).assigned | set(method.params())
        plain = {n for n in used if not self.symbols.is_local(n) and n not in mapping}
        chosen: dict[str, str] = {}
        for name in sorted(used, key=self.symbols.order):
            if name in mapping or not self.symbols.is_local(name):
                continue
            base, label = self.symbols.readable(name), self.symbols.owner(name)
            readable = (
                base if base not in plain and base not in chosen.values() else f"{label}_{base}"
            )
            chosen[name] = readable
            mapping[name] = cst.Name(readable)
        return mapping

    def render(self, method: Method) -> tuple[list[str], list[cst.BaseStatement]]:
        mapping = self.mapping_for(method)
        attributes = self._rebuilt_attributes
        body = [substitute(s, self.ctx.script.lines, mapping, attributes) for s in method.body]
        if method.returns is not None:
            value = substitute(method.returns, self.ctx.script.lines, mapping, attributes)
            body.append(
                cst.SimpleStatementLine(
                    [
                        cst.Return(
                            value.with_changes(lpar=[], rpar=[])
                            if isinstance(value, cst.BaseExpression)
                            else value
                        )
                    ]
                )
            )
        params = []
        renames = self._parameter_renames(method)
        for param in method.params():
            if param in renames:
                params.append(renames[param])
                continue
            mapped = mapping.get(param) if self.symbols.is_local(param) else None
            params.append(mapped.value if isinstance(mapped, cst.Name) else param)
        # the script's name stays
        if method.batch in renames and method.batch in self.ctx.script.all_names:
            own = mapping.get(method.batch)
            name = own.value if isinstance(own, cst.Name) else method.batch
            body.insert(0, cst.parse_statement(f"{name} = {renames[method.batch]}"))
        return params, body

    def _parameter_renames(self, method: Method) -> dict[str, str]:
        """Lightning's `batch, batch_idx` for the script's loop variables, unless those names mean something else here.

        The index is renamed; the batch keeps the script's name, bound from `batch` on the hook's first line.
        """
        params = set(method.params())
        statements = list(method.body)
        if method.returns is not None:
            statements.append(cst.SimpleStatementLine([cst.Return(method.returns)]))
        names = usage(statements)
        used = names.read | names.assigned
        renames: dict[str, str] = {}
        if method.index in params and method.index != "batch_idx" and "batch_idx" not in used:
            renames[method.index] = "batch_idx"
        if (
            method.batch in params
            and method.batch != "batch"
            and ("batch" not in used or "batch" in renames)
        ):
            renames[method.batch] = "batch"
        return renames
