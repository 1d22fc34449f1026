"""What each task's template must do, as data: covering answer sets, refusals, metric bars and time budgets."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Answers = Mapping[str, Any]


@dataclass(frozen=True)
class MetricBar:
    """What the default project's full training run must print and reach, within a CPU-time budget."""

    pattern: str  # a regular expression on the fit's stdout; its named groups are the metrics
    reached: Callable[[dict[str, float]], bool]
    cpu_seconds: float  # the budget for the run's CPU time (a shared machine barely changes it)
    extra_args: tuple[str, ...] = ()  # e.g. a shorter run for the slow sequence model


@dataclass(frozen=True)
class TaskCase:
    """One task of the shared template: how its projects must look and what they must reach."""

    name: str
    metric: str  # the validation metric that ranks epochs
    default_package: str
    description_word: str  # appears in `litgen templates`' one-line description
    writer: str  # the prediction writer class in the config
    extra_modules: tuple[
        str, ...
    ]  # modules beside __init__, __main__, callbacks, data, inmemory, model
    projects: Mapping[
        str, Mapping[str, str]
    ]  # a covering set: every choice of every question at least once
    refusals: list[
        tuple[dict[str, str], str]
    ]  # task-specific answers and the message that refuses them
    model_keys: Mapping[str, str]  # answer -> model config key that must hold it
    readme: list[tuple[str, Callable[[Answers], bool]]] = field(
        default_factory=list
    )  # phrase, when it appears
    defaults: list[tuple[dict[str, str], dict[str, Any]]] = field(
        default_factory=list
    )  # answers -> recorded
    metric_bar: MetricBar | None = None
    one_thread: bool = (
        False  # the project suite runs with OMP_NUM_THREADS=1 (models with many small ops)
    )


# Refused for every task: the validators the tasks share.
SHARED_REFUSALS: list[tuple[dict[str, str], str]] = [
    ({"accelerator": "cpu", "precision": "16-mixed"}, "precision 16-mixed needs a GPU"),
    ({"num_nodes": "2"}, "num_nodes 2 needs a distributed strategy"),
    (
        {"logger": "none", "callbacks": "lr_monitor"},
        "lr_monitor logs to the logger, but logger is none",
    ),
    ({"slurm": "true"}, "slurm needs a fixed device count"),
    ({"package_name": "My-Pkg"}, "valid lowercase Python identifier"),
    ({"package_name": "1digits"}, "valid lowercase Python identifier"),
    ({"package_name": "class"}, "is a Python keyword"),
    ({"package_name": "json"}, "shadow the standard-library module"),
    ({"package_name": "torch"}, "shadow the installed package"),
    (
        {"project_name": "Lightning"},
        "shadow the installed package",
    ),  # the derived package name is checked too
    ({"project_name": "  "}, "project_name must not be empty"),
    ({"project_name": 'The "best" digits'}, "without double quotes"),
    ({"description": "two\nlines"}, "description must be a single line"),
    ({"max_epochs": "0"}, "max_epochs must be >= 1"),
    ({"batch_size": "0"}, "batch_size must be >= 1"),
    ({"seed": "-1"}, "seed must be in"),
    ({"seed": "4294967296"}, "seed must be in"),
    ({"devices": "0"}, "devices must be 'auto' or a positive integer"),
    ({"devices": "two"}, "devices must be 'auto' or a positive integer"),
    ({"num_nodes": "0", "strategy": "ddp"}, "num_nodes must be >= 1"),
    ({"callbacks": "model_checkpoint, swa"}, "Invalid choice for 'callbacks': 'swa'"),
    ({"task": "gan"}, "has no question 'task'"),  # the template name decides the task
]
# Refused for every task but the GAN (which offers neither strategy).
GPU_STRATEGY_REFUSALS: list[tuple[dict[str, str], str]] = [
    ({"accelerator": "cpu", "strategy": "fsdp"}, "strategy fsdp needs GPUs"),
    (
        {"accelerator": "cpu", "strategy": "deepspeed_stage_2"},
        "strategy deepspeed_stage_2 needs GPUs",
    ),
]
OPTIMIZER_REFUSALS: list[tuple[dict[str, str], str]] = [
    ({"optimizer": "rmsprop"}, "Invalid choice for 'optimizer'"),
    ({"learning_rate": "0"}, "learning_rate must be > 0"),
    ({"learning_rate": "fast"}, "--data learning_rate: expected a number, got 'fast'"),
]


def on_a_gpu_cluster(**answers: str) -> dict[str, str]:
    """A task's answers rendered for 2 SLURM nodes of 4 GPUs in 16-mixed, with every callback and TensorBoard."""
    return {
        **answers,
        "precision": "16-mixed",
        "accelerator": "gpu",
        "devices": "4",
        "num_nodes": "2",
        "logger": "tensorboard",
        "callbacks": "model_checkpoint, early_stopping, lr_monitor",
        "deterministic": "false",
        "slurm": "true",
    }


def on_two_cpu_processes(**answers: str) -> dict[str, str]:
    """A task's answers rendered for 2 CPU processes in bf16-mixed, with no logger and no callbacks."""
    return {
        **answers,
        "precision": "bf16-mixed",
        "accelerator": "cpu",
        "devices": "2",
        "logger": "none",
        "callbacks": "",
        "seed": "7",
    }


TASKS: dict[str, TaskCase] = {
    "classifier": TaskCase(
        name="classifier",
        metric="val_acc",
        default_package="digits_classifier",
        description_word="digits",
        writer="CsvPredictionWriter",
        extra_modules=("optim",),
        projects={
            "defaults": {},
            "gpu_cluster": on_a_gpu_cluster(
                project_name="Cluster Digits", optimizer="sgd", scheduler="step", strategy="ddp"
            ),
            "cpu_bare": on_two_cpu_processes(
                package_name="bare_digits",
                optimizer="adamw",
                learning_rate="0.003",
                scheduler="plateau",
                max_epochs="3",
                batch_size="32",
            ),
            "fsdp": {
                "package_name": "sharded_digits",
                "scheduler": "none",
                "precision": "bf16-mixed",
                "accelerator": "gpu",
                "devices": "8",
                "strategy": "fsdp",
                "callbacks": "early_stopping",
            },
            "deepspeed": {
                "package_name": "zero_digits",
                "optimizer": "adamw",
                "precision": "16-mixed",
                "devices": "2",
                "strategy": "deepspeed_stage_2",
                "num_nodes": "4",
                "logger": "tensorboard",
                "slurm": "true",
            },
        },
        refusals=[
            *GPU_STRATEGY_REFUSALS,
            *OPTIMIZER_REFUSALS,
            ({"scheduler": "linear"}, "scheduler linear is offered for the gan task only"),
        ],
        model_keys={"optimizer": "optimizer", "scheduler": "scheduler"},
        readme=[],
        defaults=[
            (
                {"optimizer": "sgd", "logger": "none"},
                {"learning_rate": 0.05, "callbacks": ["model_checkpoint"]},
            )
        ],
        metric_bar=MetricBar(
            r"best val_acc=(?P<val_acc>\d\.\d+) at epoch \d+", lambda m: m["val_acc"] >= 0.90, 60
        ),
    ),
    "regression": TaskCase(
        name="regression",
        metric="val_rmse",
        default_package="diabetes_regressor",
        description_word="diabetes",
        writer="CsvPredictionWriter",
        extra_modules=("optim",),
        projects={
            "defaults": {},
            "cpu_ddp": on_two_cpu_processes(
                package_name="bare_diabetes",
                loss="huber",
                optimizer="adam",
                learning_rate="0.001",
                scheduler="plateau",
                strategy="ddp",
                max_epochs="3",
                batch_size="16",
            ),
            "gpu_cluster": on_a_gpu_cluster(
                project_name="Cluster Diabetes",
                loss="huber",
                optimizer="sgd",
                scheduler="step",
                strategy="fsdp",
            ),
            "deepspeed": {
                "package_name": "zero_diabetes",
                "scheduler": "none",
                "precision": "16-mixed",
                "devices": "2",
                "strategy": "deepspeed_stage_2",
                "num_nodes": "4",
                "callbacks": "early_stopping",
                "slurm": "true",
            },
        },
        refusals=[
            *GPU_STRATEGY_REFUSALS,
            *OPTIMIZER_REFUSALS,
            ({"loss": "mae"}, "Invalid choice for 'loss'"),
            ({"loss": "bce"}, "loss bce is a GAN loss"),
        ],
        model_keys={"loss": "loss", "optimizer": "optimizer", "scheduler": "scheduler"},
        readme=[("Huber loss", lambda answers: answers["loss"] == "huber")],
        defaults=[
            (
                {"optimizer": "sgd", "logger": "none"},
                {"learning_rate": 0.01, "callbacks": ["model_checkpoint"]},
            )
        ],
        metric_bar=MetricBar(
            r"best val_rmse=(?P<val_rmse>\d+\.\d+) at epoch \d+ \(val_r2=(?P<val_r2>-?\d\.\d+)\)",
            lambda m: (
                m["val_r2"] >= 0.4 and m["val_rmse"] < 65
            ),  # the target's standard deviation is about 77
            60,
        ),
    ),
    "autoencoder": TaskCase(
        name="autoencoder",
        metric="val_mse",
        default_package="digits_autoencoder",
        description_word="autoencoder",
        writer="CsvEmbeddingWriter",
        extra_modules=("networks", "optim"),
        projects={
            "defaults": {},
            "cpu_ddp": on_two_cpu_processes(
                package_name="bare_digits_vae",
                architecture="mlp",
                latent_dim="2",
                variational="true",
                input_noise="0.3",
                optimizer="sgd",
                scheduler="plateau",
                strategy="ddp",
                max_epochs="3",
                batch_size="32",
            ),
            "gpu_cluster": on_a_gpu_cluster(
                project_name="Cluster Digits VAE",
                variational="true",
                optimizer="adamw",
                learning_rate="0.001",
                scheduler="step",
                strategy="fsdp",
            ),
            "deepspeed": {
                "package_name": "zero_digits_ae",
                "architecture": "mlp",
                "latent_dim": "32",
                "input_noise": "0.1",
                "scheduler": "none",
                "precision": "16-mixed",
                "devices": "2",
                "strategy": "deepspeed_stage_2",
                "num_nodes": "4",
                "callbacks": "early_stopping",
                "slurm": "true",
            },
        },
        refusals=[
            *GPU_STRATEGY_REFUSALS,
            *OPTIMIZER_REFUSALS,
            ({"latent_dim": "big"}, "--data latent_dim: expected an integer, got 'big'"),
            ({"latent_dim": "0"}, "latent_dim must be between 1 and 63"),
            ({"latent_dim": "64"}, "latent_dim must be between 1 and 63"),
            ({"input_noise": "-0.1"}, "input_noise must be >= 0"),
            ({"architecture": "resnet"}, "Invalid choice for 'architecture'"),
        ],
        model_keys={
            "architecture": "architecture",
            "latent_dim": "latent_dim",
            "variational": "variational",
            "input_noise": "input_noise",
            "optimizer": "optimizer",
            "scheduler": "scheduler",
        },
        readme=[
            ("It is variational", lambda answers: answers["variational"]),
            ("It is denoising", lambda answers: answers["input_noise"] > 0),
        ],
        defaults=[
            # SGD needs a larger step than Adam's 3e-3, and a larger one still for the MLP.
            ({"optimizer": "sgd", "logger": "none"}, {"learning_rate": 0.05}),
            ({"optimizer": "sgd", "architecture": "mlp"}, {"learning_rate": 0.2}),
        ],
        metric_bar=MetricBar(
            r"best val_mse=(?P<val_mse>\d\.\d+) at epoch \d+", lambda m: m["val_mse"] < 0.1, 60
        ),
    ),
    "sequence": TaskCase(
        name="sequence",
        metric="val_ppl",
        default_package="char_transformer",
        description_word="transformer",
        writer="JsonLinesPredictionWriter",
        extra_modules=("tokenizer",),
        projects={
            "defaults": {},
            "gpu_cluster": on_a_gpu_cluster(
                project_name="Cluster Chars",
                context_length="32",
                d_model="48",
                n_layers="3",
                n_heads="3",
                optimizer="sgd",
                warmup_fraction="0.1",
                gradient_clip_val="0.5",
                strategy="deepspeed_stage_2",
            ),
            "cpu_ddp": on_two_cpu_processes(
                package_name="bare_chars",
                context_length="48",
                n_heads="2",
                optimizer="adam",
                learning_rate="0.002",
                warmup_fraction="0",
                gradient_clip_val="0",
                strategy="ddp",
                max_epochs="2",
                batch_size="16",
            ),
            "fsdp": {
                "package_name": "sharded_chars",
                "d_model": "32",
                "n_layers": "1",
                "precision": "bf16-mixed",
                "accelerator": "gpu",
                "devices": "8",
                "strategy": "fsdp",
                "callbacks": "early_stopping",
            },
        },
        refusals=[
            *GPU_STRATEGY_REFUSALS,
            *OPTIMIZER_REFUSALS,
            ({"d_model": "64", "n_heads": "5"}, "d_model 64 is not divisible by n_heads 5"),
            ({"d_model": "64", "n_heads": "5"}, "choose n_heads among 1, 2, 4, 8, 16, 32"),
            ({"n_heads": "0"}, "n_heads must be >= 1"),
            ({"d_model": "4"}, "d_model must be between 8 and 4096"),
            ({"n_layers": "0"}, "n_layers must be between 1 and 64"),
            ({"context_length": "4"}, "context_length must be between 8 and 2048"),
            ({"warmup_fraction": "1"}, "warmup_fraction must be in [0, 1)"),
            ({"warmup_fraction": "-0.1"}, "warmup_fraction must be in [0, 1)"),
            ({"gradient_clip_val": "-1"}, "gradient_clip_val must be >= 0"),
            ({"scheduler": "cosine"}, "has no question 'scheduler'"),
        ],
        model_keys={
            "context_length": "context_length",
            "d_model": "d_model",
            "n_layers": "n_layers",
            "n_heads": "n_heads",
            "optimizer": "optimizer",
            "warmup_fraction": "warmup_fraction",
        },
        readme=[("linear warm-up", lambda answers: answers["warmup_fraction"] > 0)],
        defaults=[
            (
                {"optimizer": "sgd", "logger": "none"},
                {"learning_rate": 0.3, "callbacks": ["model_checkpoint"]},
            )
        ],
        metric_bar=MetricBar(
            # Half an epoch (the full default run, six epochs, reaches about 5); a bigram model scores about 14.
            r"best val_ppl=(?P<val_ppl>\d+\.\d+) at epoch 0",
            lambda m: m["val_ppl"] < 20,
            120,
            ("--trainer.max_epochs=1", "--trainer.limit_train_batches=0.5"),
        ),
        one_thread=True,
    ),
    "gan": TaskCase(
        name="gan",
        metric="val_tv",
        default_package="ring_gan",
        description_word="GAN",
        writer="CsvSampleWriter",
        extra_modules=("metrics",),
        projects={
            "defaults": {},
            "gpu_cluster": on_a_gpu_cluster(
                project_name="Cluster GAN",
                loss="hinge",
                latent_dim="4",
                generator_lr="0.0005",
                discriminator_lr="0.002",
                n_critic="2",
                scheduler="cosine",
                gradient_clip_val="0",
                strategy="ddp",
            ),
            "cpu_wgan": on_two_cpu_processes(
                package_name="critic_ring",
                loss="wgan-gp",
                scheduler="none",
                gradient_clip_val="5",
                max_epochs="3",
                batch_size="64",
            ),
        },
        refusals=[
            (
                {"loss": "wgan-gp", "precision": "16-mixed"},
                "loss wgan-gp cannot use precision 16-mixed",
            ),
            ({"n_critic": "0"}, "n_critic must be between 1 and 100"),
            ({"latent_dim": "0"}, "latent_dim must be between 1 and 1024"),
            ({"generator_lr": "0"}, "generator_lr must be > 0"),
            ({"discriminator_lr": "-0.001"}, "discriminator_lr must be > 0"),
            ({"gradient_clip_val": "-1"}, "gradient_clip_val must be >= 0"),
            ({"strategy": "fsdp"}, "strategy fsdp is not offered for the gan task"),
            ({"strategy": "deepspeed_stage_2"}, "DeepSpeed supports one optimizer only"),
            ({"loss": "lsgan"}, "Invalid choice for 'loss'"),
            ({"loss": "mse"}, "loss mse is a regression loss"),
            ({"scheduler": "plateau"}, "scheduler plateau is not offered for the gan task"),
            ({"optimizer": "adam"}, "has no question 'optimizer'"),
        ],
        model_keys={
            "loss": "loss",
            "latent_dim": "latent_dim",
            "generator_lr": "generator_lr",
            "discriminator_lr": "discriminator_lr",
            "n_critic": "n_critic",
            "scheduler": "scheduler",
            "gradient_clip_val": "gradient_clip_val",
        },
        readme=[
            ("clips them to a global norm", lambda answers: answers["gradient_clip_val"] > 0),
            ("steps both by hand", lambda answers: answers["scheduler"] != "none"),
        ],
        defaults=[
            # A Wasserstein critic is trained harder than the generator, at a lower rate.
            (
                {"loss": "wgan-gp", "logger": "none"},
                {"n_critic": 5, "generator_lr": 0.001, "discriminator_lr": 0.001},
            ),
        ],
        metric_bar=MetricBar(
            r"best val_tv=(?P<val_tv>\d\.\d+) at epoch \d+ "
            r"\(val_modes=(?P<val_modes>\d+), val_hq=(?P<val_hq>\d\.\d+)\)",
            lambda m: m["val_modes"] == 8,  # a collapsed generator covers 1 mode
            120,
        ),
        one_thread=True,
    ),
}
