"""The upgrade rules, in the order they run: imports first, so later rules see one namespace."""

from __future__ import annotations

from litgen.upgrade.rule import Rule
from litgen.upgrade.rules.argparse_helpers import ArgparseRule
from litgen.upgrade.rules.attributes import AttributesRule
from litgen.upgrade.rules.callbacks import CallbacksRule
from litgen.upgrade.rules.cli import CliRule
from litgen.upgrade.rules.datamodule import DataModuleRule
from litgen.upgrade.rules.epoch_end import EpochEndRule
from litgen.upgrade.rules.hooks import HooksRule
from litgen.upgrade.rules.imports import ImportsRule
from litgen.upgrade.rules.module_api import ModuleApiRule
from litgen.upgrade.rules.optimizers import OptimizersRule
from litgen.upgrade.rules.step_end import StepEndRule
from litgen.upgrade.rules.trainer import TrainerRule
from litgen.upgrade.rules.unresolved import UnresolvedRule

RULES: tuple[Rule, ...] = (
    ImportsRule(),
    ArgparseRule(),
    TrainerRule(),
    StepEndRule(),
    EpochEndRule(),
    OptimizersRule(),
    HooksRule(),
    ModuleApiRule(),
    DataModuleRule(),
    AttributesRule(),
    CallbacksRule(),
    CliRule(),
    UnresolvedRule(),
)
