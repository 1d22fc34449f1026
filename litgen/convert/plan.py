"""The plan of a conversion: the LightningModule's methods (in the script's own names) and the Trainer call."""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

HOOK_SIGNATURES: dict[str, list[str]] = {
    "on_fit_start": [],
    "on_train_epoch_start": [],
    "on_train_batch_start": ["{batch}", "{index}"],
    "training_step": ["{batch}", "{index}"],
    "on_before_optimizer_step": ["optimizer"],
    "configure_gradient_clipping": [
        "optimizer",
        "gradient_clip_val=None",
        "gradient_clip_algorithm=None",
    ],
    "on_train_batch_end": ["outputs", "{batch}", "{index}"],
    "on_train_epoch_end": [],
    "on_validation_epoch_start": [],
    "validation_step": ["{batch}", "{index}"],
    "on_validation_epoch_end": [],
    "on_test_epoch_start": [],
    "test_step": ["{batch}", "{index}"],
    "on_test_epoch_end": [],
    "on_fit_end": [],
}
HOOK_ORDER = list(HOOK_SIGNATURES)
FAMILY = {
    "on_fit_start": "fit",
    "on_fit_end": "fit",
    "on_train_epoch_start": "train",
    "on_train_batch_start": "train",
    "training_step": "train",
    "on_before_optimizer_step": "train",
    "configure_gradient_clipping": "train",
    "on_train_batch_end": "train",
    "on_train_epoch_end": "train",
    "on_validation_epoch_start": "val",
    "validation_step": "val",
    "on_validation_epoch_end": "val",
    "on_test_epoch_start": "test",
    "test_step": "test",
    "on_test_epoch_end": "test",
}


@dataclass(frozen=True)
class Names:
    """Identifiers the generated code introduces, chosen so they clash with nothing in the script."""

    lightning: str
    module_class: str
    instance: str
    trainer: str


@dataclass
class Method:
    """One hook of the generated LightningModule; `body` is still in the script's variable names."""

    name: str
    body: list[cst.BaseStatement]
    batch: str = "batch"
    index: str = "batch_idx"
    returns: cst.BaseExpression | None = None

    def params(self) -> list[str]:
        return [p.format(batch=self.batch, index=self.index) for p in HOOK_SIGNATURES[self.name]]


@dataclass
class Unit:
    """An evaluation pass: its loader and the statements it replaces outside the loop (for a test run)."""

    loader: cst.BaseExpression
    line: int | None
    replaced: list[cst.BaseStatement] = field(default_factory=list)


@dataclass
class ModulePlan:
    methods: dict[str, Method] = field(default_factory=dict)
    manual: bool = False
    optimizers: list[str] = field(default_factory=list)
    train_loader: cst.BaseExpression | None = None
    full_batch: bool = False
    validation: Unit | None = None
    test: Unit | None = None
    max_epochs: cst.BaseExpression | None = None
    epoch_var: str | None = None
    epoch_start: cst.BaseExpression | None = None
    after_region: list[cst.BaseStatement] = field(default_factory=list)

    def add(
        self,
        name: str,
        statements: list[cst.BaseStatement],
        *,
        batch: str = "batch",
        index: str = "batch_idx",
    ) -> None:
        if not statements:
            return
        method = self.methods.get(name)
        if method is None:
            self.methods[name] = Method(name, list(statements), batch, index)
        else:
            method.body.extend(statements)

    def signature(self, name: str) -> list[str]:
        """Parameters of a hook the plan does not hold yet (one a later pass adds)."""
        return Method(name, []).params()

    def ordered(self) -> list[Method]:
        return [self.methods[name] for name in HOOK_ORDER if name in self.methods]
