"""`training_step(..., optimizer_idx)` (several optimizers, automatic) -> manual optimization that does
what 1.x did for each batch: for each optimizer in order, toggle it, run the step, backward, step, zero."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import libcst as cst

from litgen.cst_walk import find
from litgen.upgrade.classes import ClassBodyTransformer, after_super_init
from litgen.upgrade.rule import PL_IMPORT, Example, Rule, RuleContext, names_in

PER_OPTIMIZER = "training_step_per_optimizer"
_LOOP_HEAD = """def training_step(self, batch, batch_idx):
    # 1.x ran the step once per optimizer, in order, each with only its own parameters trainable
"""
_LOOP_BODY = """    for optimizer_idx, optimizer in enumerate(self.optimizers()):
        self.toggle_optimizer(optimizer)
        loss = self.{per}(batch, batch_idx, optimizer_idx)
        if loss is not None:  # a step that returns None skips that optimizer, as in 1.x
            self.manual_backward(loss["loss"] if isinstance(loss, dict) else loss)
            optimizer.step()
            optimizer.zero_grad()
        self.untoggle_optimizer(optimizer)
"""
LOOP = _LOOP_HEAD + _LOOP_BODY
# With epoch outputs collected (the epoch-end rule ran first), 1.x's shape: one list per batch,
# holding what each optimizer's step returned.
GROUPED_LOOP = (
    _LOOP_HEAD
    + "    first = len(self.training_step_outputs)\n"
    + _LOOP_BODY
    + "    # training_epoch_end got one list per batch, an entry per optimizer\n"
    + "    self.training_step_outputs[first:] = [self.training_step_outputs[first:]]\n"
)
SCHEDULERS = """def on_train_epoch_end(self):
    # manual optimization steps its schedulers itself; 2.x hands back one scheduler bare
    schedulers = self.lr_schedulers()
    if not isinstance(schedulers, list):
        schedulers = [] if schedulers is None else [schedulers]
    for scheduler in schedulers:
        scheduler.step()
"""
LOOP_NOTE = (
    "several optimizers need manual optimization in 2.x: this loop does per batch what 1.x did (toggle, step, "
    "backward, optimizer step, zero_grad); the step itself is unchanged"
)
ONE_OPTIMIZER = "training_step(..., optimizer_idx) with one optimizer -> the 2.x signature"
MANUAL = "2.x trains several optimizers only with manual optimization, and litgen cannot rewrite this one: {why}"
OVERRIDES = ("optimizer_step", "optimizer_zero_grad", "backward", "manual_backward")


class _Optimizers(ClassBodyTransformer):
    rule = "optimizers"
    kinds = ("module",)

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        source = context.source  # the user's, not the epoch-end rule's loss scaling
        self.file_blockers = [
            why
            for needle, why in (
                (
                    "gradient_clip_val",
                    "the Trainer clips gradients, which manual optimization must do itself "
                    "(`self.clip_gradients`)",
                ),
                (
                    "accumulate_grad_batches",
                    "gradients are accumulated, which manual optimization must do itself",
                ),
                ("truncated_bptt", "it uses truncated back-propagation through time"),
            )
            if needle in source
        ]

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False  # training_step is rewritten whole from leave_ClassDef

    def upgrade_body(
        self, original_node: cst.ClassDef, body: list[cst.BaseStatement]
    ) -> list[cst.BaseStatement]:
        methods = {s.name.value: i for i, s in enumerate(body) if isinstance(s, cst.FunctionDef)}
        index = methods.get("training_step")
        step = body[index] if index is not None else None
        read = {s.name.value: s for s in original_node.body.body if isinstance(s, cst.FunctionDef)}
        if not isinstance(step, cst.FunctionDef) or [p.name.value for p in step.params.params][
            3:4
        ] != ["optimizer_idx"]:
            return body
        assert index is not None
        configure = (
            body[methods["configure_optimizers"]] if "configure_optimizers" in methods else None
        )
        count = _optimizer_count(configure) if isinstance(configure, cst.FunctionDef) else None
        if count == 1 or (count is None and step.params.params[3].default is not None):
            # One optimizer: 1.x passed optimizer_idx=0 (its default) and optimized automatically.
            body[index] = _without_optimizer_idx(step)
            self.change(ONE_OPTIMIZER, at=read.get("training_step"))
            return body
        why = self._blocker(body, methods, step)
        if why is not None:
            body[index] = self.noted(
                step, MANUAL.format(why=why), "manual", at=read.get("training_step")
            )
            return body
        init = body[methods["__init__"]]
        assert isinstance(init, cst.FunctionDef)
        body[methods["__init__"]] = after_super_init(
            init, "self.automatic_optimization = False  # several optimizers (see training_step)\n"
        )
        grouped = "training_step_outputs" in cst.Module([]).code_for_node(step)
        loop = cst.parse_statement((GROUPED_LOOP if grouped else LOOP).format(per=PER_OPTIMIZER))
        assert isinstance(loop, cst.FunctionDef)
        # the step keeps its own comments (notes earlier rules put on it); the new loop takes its
        # place
        comments = [line for line in step.leading_lines if line.comment is not None]
        blank = [line for line in step.leading_lines if line.comment is None]
        renamed = step.with_changes(
            name=cst.Name(PER_OPTIMIZER), leading_lines=[cst.EmptyLine(indent=False), *comments]
        )
        loop = self.noted(
            loop.with_changes(leading_lines=blank), LOOP_NOTE, at=read.get("training_step")
        )
        new: list[cst.BaseStatement] = [loop, renamed]
        if self._steps_schedulers(body, methods):
            stepping = cst.parse_statement(SCHEDULERS)
            assert isinstance(stepping, cst.FunctionDef)
            existing = next(
                (methods[n] for n in ("on_train_epoch_end", "on_epoch_end") if n in methods), None
            )
            if (
                existing is not None
            ):  # the hook the class has (the hooks rule renames a 1.x one) steps them last
                hook = body[existing]
                assert isinstance(hook, cst.FunctionDef)
                inner = hook.body.with_changes(body=[*hook.body.body, *stepping.body.body])
                body[existing] = hook.with_changes(body=inner)
            else:
                new.append(stepping.with_changes(leading_lines=[cst.EmptyLine(indent=False)]))
        body[index : index + 1] = new
        self.change(
            "training_step(..., optimizer_idx) -> manual optimization over self.optimizers()",
            at=read.get("training_step"),
        )
        return body

    def _blocker(
        self, body: list[cst.BaseStatement], methods: dict[str, int], step: cst.FunctionDef
    ) -> str | None:
        if self.file_blockers:
            return self.file_blockers[0]
        if len(step.params.params) > 4:
            return "its training_step takes more than (batch, batch_idx, optimizer_idx)"
        overridden = [name for name in OVERRIDES if name in methods]
        if overridden:
            return f"the class overrides `{overridden[0]}`, which manual optimization does not call"
        if "__init__" not in methods:
            return "the class has no `__init__` to set `self.automatic_optimization = False` in"
        configure = (
            body[methods["configure_optimizers"]] if "configure_optimizers" in methods else None
        )
        text = cst.Module([]).code_for_node(configure) if configure is not None else ""
        for needle, why in (
            ("frequency", "its optimizers have frequencies"),
            ("interval", "a scheduler runs per step"),
            ("ReduceLROnPlateau", "a ReduceLROnPlateau scheduler needs the monitored value"),
            ("monitor", "a scheduler monitors a metric"),
        ):
            if needle in text:
                return why
        return None

    @staticmethod
    def _steps_schedulers(body: list[cst.BaseStatement], methods: dict[str, int]) -> bool:
        if "configure_optimizers" not in methods:
            return False
        text = cst.Module([]).code_for_node(body[methods["configure_optimizers"]])
        return "lr_scheduler" in text or "scheduler" in text.lower()


def _optimizer_count(configure: cst.FunctionDef) -> int | None:
    """How many optimizers `configure_optimizers` returns, when every `return` says it plainly."""
    assigned: dict[str, cst.BaseExpression] = {}
    for assign in find(configure, cst.Assign):
        for target in assign.targets:
            if isinstance(target.target, cst.Name):
                assigned[target.target.value] = assign.value
    counts = set()
    for statement in find(configure, cst.Return):
        value = statement.value
        if isinstance(value, cst.Tuple | cst.List) and len(value.elements) == 2:
            first = value.elements[0].value
            if isinstance(first, cst.List | cst.Tuple):  # ([optimizers], [schedulers])
                value = first
        if isinstance(value, cst.Name):
            value = assigned.get(value.value, value)
        if isinstance(value, cst.Call | cst.Dict):  # `Adam(...)`, `{"optimizer": ..., ...}`
            counts.add(1)
        elif isinstance(value, cst.List | cst.Tuple) and not any(
            isinstance(e, cst.StarredElement) for e in value.elements
        ):
            counts.add(len(value.elements) and (1 if len(value.elements) == 1 else 2))
        else:
            return None
    return counts.pop() if len(counts) == 1 else None


def _without_optimizer_idx(step: cst.FunctionDef) -> cst.FunctionDef:
    """`training_step(self, batch, batch_idx, optimizer_idx=0)` -> 2.x's signature; the body still
    reads `optimizer_idx` as 0 where it uses it."""
    params = list(step.params.params)
    params[2] = params[2].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    step = step.with_changes(params=step.params.with_changes(params=params[:3] + params[4:]))
    if "optimizer_idx" not in names_in(step.body):
        return step
    bind = cst.parse_statement("optimizer_idx = 0  # 1.x passed 0: there is one optimizer\n")
    return step.with_changes(body=step.body.with_changes(body=[bind, *step.body.body]))


HEAD = PL_IMPORT
GAN = (
    HEAD + "class GAN(pl.LightningModule):\n"
    "    def __init__(self):\n        super().__init__()\n        self.g, self.d = G(), D()\n\n"
    "    def training_step(self, batch, batch_idx, optimizer_idx):\n"
    "        if optimizer_idx == 0:\n            return self.g_loss(batch)\n        return self.d_loss(batch)\n\n"
    "    def configure_optimizers(self):\n        return [Adam(self.g.parameters()), Adam(self.d.parameters())]\n"
)

GAN_UPGRADED = HEAD + (
    "class GAN(pl.LightningModule):\n"
    "    def __init__(self):\n"
    "        super().__init__()\n"
    "        self.automatic_optimization = False  # several optimizers (see training_step)\n"
    "        self.g, self.d = G(), D()\n"
    "\n"
    "    # litgen: several optimizers need manual optimization in 2.x: this loop does per batch what 1.x\n"
    "    #   did (toggle, step, backward, optimizer step, zero_grad); the step itself is unchanged\n"
    "    def training_step(self, batch, batch_idx):\n"
    "        # 1.x ran the step once per optimizer, in order, each with only its own parameters trainable\n"
    "        for optimizer_idx, optimizer in enumerate(self.optimizers()):\n"
    "            self.toggle_optimizer(optimizer)\n"
    "            loss = self.training_step_per_optimizer(batch, batch_idx, optimizer_idx)\n"
    "            if loss is not None:  # a step that returns None skips that optimizer, as in 1.x\n"
    '                self.manual_backward(loss["loss"] if isinstance(loss, dict) else loss)\n'
    "                optimizer.step()\n"
    "                optimizer.zero_grad()\n"
    "            self.untoggle_optimizer(optimizer)\n"
    "\n"
    "    def training_step_per_optimizer(self, batch, batch_idx, optimizer_idx):\n"
    "        if optimizer_idx == 0:\n"
    "            return self.g_loss(batch)\n"
    "        return self.d_loss(batch)\n"
    "\n"
    "    def configure_optimizers(self):\n"
    "        return [Adam(self.g.parameters()), Adam(self.d.parameters())]\n"
)


class OptimizersRule(Rule):
    name = "optimizers"
    summary = "training_step(..., optimizer_idx) -> manual optimization over self.optimizers()"
    examples: ClassVar[Sequence[Example]] = (
        Example(GAN, GAN_UPGRADED),
        Example(
            HEAD
            + "class M(pl.LightningModule):\n    def training_step(self, batch, batch_idx):\n        return 1\n"
        ),
        Example(  # one optimizer: 1.x optimized automatically, passing optimizer_idx=0
            HEAD + "class M(pl.LightningModule):\n"
            "    def training_step(self, batch, batch_idx, optimizer_idx=0):\n"
            "        return self.loss(batch, optimizer_idx)\n\n"
            "    def configure_optimizers(self):\n"
            "        opt = Adam(self.parameters())\n        return [opt], [StepLR(opt, 1)]\n",
            HEAD + "class M(pl.LightningModule):\n"
            "    def training_step(self, batch, batch_idx):\n"
            "        optimizer_idx = 0  # 1.x passed 0: there is one optimizer\n"
            "        return self.loss(batch, optimizer_idx)\n\n"
            "    def configure_optimizers(self):\n"
            "        opt = Adam(self.parameters())\n        return [opt], [StepLR(opt, 1)]\n",
        ),
        Example(  # configure_optimizers is inherited, and the step's default says one optimizer
            HEAD + "class M(pl.LightningModule):\n"
            "    def training_step(self, batch, batch_idx, optimizer_idx=0):\n        return self(batch)\n",
            HEAD + "class M(pl.LightningModule):\n"
            "    def training_step(self, batch, batch_idx):\n        return self(batch)\n",
        ),
    )

    def applies(self, source: str) -> bool:
        return "optimizer_idx" in source

    def transformer(self, context: RuleContext) -> cst.CSTTransformer:
        return _Optimizers(context)
