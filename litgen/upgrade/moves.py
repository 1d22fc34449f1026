"""Where 1.x Lightning names went in 2.x: one table, read by the import rule (and checked by a test)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Move:
    """`new` replaces the 1.x name (`None`: removed, nothing to import); `note` tells the user what changed."""

    new: str | None
    note: str | None = None
    uses_removed: bool = (
        False  # litgen removes every use too (a decorator): nothing is left to do by hand
    )
    legacy_only: bool = False  # the name means something else in 2.x: move it only when imported from pytorch_lightning


# Keys and values are canonical (`lightning.pytorch...`): the import rule has already mapped the
# `pytorch_lightning` namespace before it looks a name up here.
MOVED_NAMES: dict[str, Move] = {
    "lightning.pytorch.loggers.base.LightningLoggerBase": Move("lightning.pytorch.loggers.Logger"),
    "lightning.pytorch.loggers.LightningLoggerBase": Move("lightning.pytorch.loggers.Logger"),
    "lightning.pytorch.loggers.base.rank_zero_experiment": Move(
        "lightning.pytorch.loggers.logger.rank_zero_experiment"
    ),
    "lightning.pytorch.loggers.base.DummyLogger": Move(
        "lightning.pytorch.loggers.logger.DummyLogger"
    ),
    "lightning.pytorch.loggers.LoggerCollection": Move(
        None,
        "LoggerCollection was removed in 2.0: pass the loggers as a list, `Trainer(logger=[...])`",
    ),
    "lightning.pytorch.loggers.TestTubeLogger": Move(
        None, "TestTubeLogger was removed in 1.7: use TensorBoardLogger"
    ),
    "lightning.pytorch.utilities.distributed.rank_zero_only": Move(
        "lightning.pytorch.utilities.rank_zero_only"
    ),
    "lightning.pytorch.utilities.distributed.rank_zero_info": Move(
        "lightning.pytorch.utilities.rank_zero_info"
    ),
    "lightning.pytorch.utilities.distributed.rank_zero_warn": Move(
        "lightning.pytorch.utilities.rank_zero_warn"
    ),
    "lightning.pytorch.utilities.warnings.rank_zero_warn": Move(
        "lightning.pytorch.utilities.rank_zero_warn"
    ),
    "lightning.pytorch.utilities.seed.seed_everything": Move("lightning.pytorch.seed_everything"),
    "lightning.pytorch.utilities.apply_func.apply_to_collection": Move(
        "lightning_utilities.core.apply_func.apply_to_collection"
    ),
    "lightning.pytorch.utilities.apply_func.move_data_to_device": Move(
        "lightning.fabric.utilities.apply_func.move_data_to_device"
    ),
    "lightning.pytorch.callbacks.LearningRateLogger": Move(
        "lightning.pytorch.callbacks.LearningRateMonitor"
    ),
    "lightning.pytorch.callbacks.ProgressBarBase": Move("lightning.pytorch.callbacks.ProgressBar"),
    # 1.x's ProgressBar was the tqdm bar; in 2.x ProgressBar is the abstract base class
    "lightning.pytorch.callbacks.ProgressBar": Move(
        "lightning.pytorch.callbacks.TQDMProgressBar", legacy_only=True
    ),
    "lightning.pytorch.callbacks.progress.ProgressBar": Move(
        "lightning.pytorch.callbacks.TQDMProgressBar", legacy_only=True
    ),
    "lightning.pytorch.callbacks.progress.ProgressBarBase": Move(
        "lightning.pytorch.callbacks.ProgressBar"
    ),
    "lightning.pytorch.callbacks.GPUStatsMonitor": Move(
        "lightning.pytorch.callbacks.DeviceStatsMonitor",
        "DeviceStatsMonitor logs different metric names than GPUStatsMonitor",
    ),
    "lightning.pytorch.callbacks.XLAStatsMonitor": Move(
        "lightning.pytorch.callbacks.DeviceStatsMonitor",
        "DeviceStatsMonitor logs different metric names than XLAStatsMonitor",
    ),
    "lightning.pytorch.profiler.SimpleProfiler": Move("lightning.pytorch.profilers.SimpleProfiler"),
    "lightning.pytorch.profiler.AdvancedProfiler": Move(
        "lightning.pytorch.profilers.AdvancedProfiler"
    ),
    "lightning.pytorch.profiler.PyTorchProfiler": Move(
        "lightning.pytorch.profilers.PyTorchProfiler"
    ),
    "lightning.pytorch.profiler.PassThroughProfiler": Move(
        "lightning.pytorch.profilers.PassThroughProfiler"
    ),
    "lightning.pytorch.profiler.Profiler": Move("lightning.pytorch.profilers.Profiler"),
    "lightning.pytorch.plugins.DDPPlugin": Move("lightning.pytorch.strategies.DDPStrategy"),
    "lightning.pytorch.plugins.training_type.DDPPlugin": Move(
        "lightning.pytorch.strategies.DDPStrategy"
    ),
    "lightning.pytorch.plugins.DDPSpawnPlugin": Move(
        "lightning.pytorch.strategies.DDPStrategy",
        'ddp_spawn is DDPStrategy(start_method="spawn") in 2.x',
    ),
    "lightning.pytorch.plugins.DeepSpeedPlugin": Move(
        "lightning.pytorch.strategies.DeepSpeedStrategy"
    ),
    "lightning.pytorch.plugins.training_type.DeepSpeedPlugin": Move(
        "lightning.pytorch.strategies.DeepSpeedStrategy"
    ),
    "lightning.pytorch.plugins.DDPShardedPlugin": Move(
        None, "sharded training (fairscale) was removed in 2.0: use FSDPStrategy"
    ),
    "lightning.pytorch.plugins.DDP2Plugin": Move(None, "DDP2 was removed in 1.8: use DDPStrategy"),
    "lightning.pytorch.plugins.DataParallelPlugin": Move(
        None, "DataParallel (dp) was removed in 2.0: use DDPStrategy"
    ),
    "lightning.pytorch.plugins.DDPSpawnShardedPlugin": Move(
        None, "sharded training (fairscale) was removed in 2.0: use FSDPStrategy"
    ),
    "lightning.pytorch.plugins.HorovodPlugin": Move(
        None, "Horovod was removed in 2.0: use DDPStrategy"
    ),
    "lightning.pytorch.utilities._module_available": Move(
        "lightning_utilities.core.imports.module_available"
    ),
    "lightning.pytorch.utilities.imports._module_available": Move(
        "lightning_utilities.core.imports.module_available"
    ),
    "lightning.pytorch.utilities.imports._compare_version": Move(
        "lightning_utilities.core.imports.compare_version"
    ),
    "lightning.pytorch.utilities.cloud_io.get_filesystem": Move(
        "lightning.fabric.utilities.cloud_io.get_filesystem"
    ),
    "lightning.pytorch.utilities.cloud_io.load": Move(
        "lightning.fabric.utilities.cloud_io._load",
        "`load` is private in 2.x (`lightning.fabric.utilities.cloud_io._load`)",
    ),
    "lightning.pytorch.utilities.cloud_io.atomic_save": Move(
        "lightning.fabric.utilities.cloud_io._atomic_save",
        "`atomic_save` is private in 2.x (`lightning.fabric.utilities.cloud_io._atomic_save`)",
    ),
    "lightning.pytorch.utilities.warnings.WarningCache": Move(
        "lightning.pytorch.utilities.rank_zero.WarningCache"
    ),
    "lightning.pytorch.utilities.types._PATH": Move("lightning.fabric.utilities.types._PATH"),
    **{
        f"lightning.pytorch.utilities.argparse.{name}": Move(
            None,
            f"`{name}` was removed with the Trainer's argparse support in 2.0: use LightningCLI or "
            "add the arguments to the parser yourself",
        )
        for name in (
            "add_argparse_args",
            "from_argparse_args",
            "parse_argparser",
            "parse_env_variables",
            "get_init_arguments_and_types",
        )
    },
    "lightning.pytorch.TrainResult": Move(
        None, "TrainResult was removed in 1.0: return the loss and log with self.log"
    ),
    "lightning.pytorch.EvalResult": Move(
        None, "EvalResult was removed in 1.0: log with self.log in the step"
    ),
    "lightning.pytorch.core.step_result.TrainResult": Move(
        None, "TrainResult was removed in 1.0: return the loss and log with self.log"
    ),
    "lightning.pytorch.core.step_result.EvalResult": Move(
        None, "EvalResult was removed in 1.0: log with self.log in the step"
    ),
    "lightning.pytorch.core.decorators.auto_move_data": Move(
        None,
        "@auto_move_data was removed: the Trainer moves batches to the device itself",
        uses_removed=True,
    ),
}

# Modules whose whole content moved: `from pytorch_lightning.profiler import X` -> `profilers`.
MOVED_MODULES: dict[str, str] = {
    "lightning.pytorch.profiler": "lightning.pytorch.profilers",
    "lightning.pytorch.plugins.training_type": "lightning.pytorch.strategies",
    "lightning.pytorch.core.lightning": "lightning.pytorch",
    "lightning.pytorch.callbacks.base": "lightning.pytorch.callbacks",
    "lightning.pytorch.loggers.base": "lightning.pytorch.loggers",
    "lightning.pytorch.utilities.cli": "lightning.pytorch.cli",
    "lightning.pytorch.metrics": "torchmetrics",
    "lightning.pytorch.metrics.functional": "torchmetrics.functional",
}

# torchmetrics classification metrics need `task=` since torchmetrics 0.11; 1.x code never passed
# it.
TASK_METRICS = frozenset(
    {
        "Accuracy",
        "Precision",
        "Recall",
        "F1",
        "F1Score",
        "FBeta",
        "FBetaScore",
        "AUROC",
        "ConfusionMatrix",
        "AveragePrecision",
        "ROC",
        "PrecisionRecallCurve",
        "StatScores",
        "Specificity",
        "HammingDistance",
        "JaccardIndex",
        "IoU",
        "CohenKappa",
        "MatthewsCorrCoef",
        "MatthewsCorrcoef",
        # the functional forms (pytorch_lightning.metrics.functional.accuracy, ...)
        "accuracy",
        "precision",
        "recall",
        "f1",
        "f1_score",
        "fbeta",
        "fbeta_score",
        "auroc",
        "confusion_matrix",
        "average_precision",
        "roc",
        "precision_recall_curve",
        "stat_scores",
        "specificity",
        "hamming_distance",
        "jaccard_index",
        "iou",
        "cohen_kappa",
        "matthews_corrcoef",
    }
)
TASK_NOTE = (
    'torchmetrics needs `task=` ("binary", "multiclass" with num_classes=, or "multilabel" with '
    "num_labels=) for this metric; pytorch_lightning.metrics inferred it from the data"
)
TASK_SUBCLASS_NOTE = (
    "torchmetrics' `{metric}` now returns a task's own metric (Binary{metric}, Multiclass{metric}, "
    "Multilabel{metric}), so this subclass's methods and states would not be used: subclass the "
    "task's class instead"
)
