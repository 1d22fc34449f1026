"""The `classifier` template: answers reach the rendered files, impossible answers are refused, projects train."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from template_helpers import (
    assert_package_name_refuses_every_stdlib_module,
    assert_project_test_suite_passes,
    assert_rendered_text_is_clean,
    children_cpu_seconds,
    choices,
    questions,
    render_projects,
)

from litgen.errors import UsageError
from litgen.new import create_project, templates_root

TEMPLATE_DIR = templates_root() / "classifier"

# A covering set: together these use every choice of every question at least once.
PROJECTS: dict[str, dict[str, str]] = {
    "defaults": {},
    "gpu_cluster": {
        "project_name": "Cluster Digits",
        "optimizer": "sgd",
        "scheduler": "step",
        "precision": "16-mixed",
        "accelerator": "gpu",
        "devices": "4",
        "strategy": "ddp",
        "num_nodes": "2",
        "logger": "tensorboard",
        "callbacks": "model_checkpoint, early_stopping, lr_monitor",
        "deterministic": "false",
        "slurm": "true",
    },
    "cpu_bare": {
        "package_name": "bare_digits",
        "optimizer": "adamw",
        "learning_rate": "0.003",
        "scheduler": "plateau",
        "precision": "bf16-mixed",
        "accelerator": "cpu",
        "devices": "2",
        "logger": "none",
        "callbacks": "",
        "max_epochs": "3",
        "batch_size": "32",
        "seed": "7",
    },
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
}

CALLBACK_CLASSES = {  # model_checkpoint keeps two checkpoints: the best by val_acc and the latest
    "model_checkpoint": ["lightning.pytorch.callbacks.ModelCheckpoint"] * 2,
    "early_stopping": ["lightning.pytorch.callbacks.EarlyStopping"],
    "lr_monitor": ["lightning.pytorch.callbacks.LearningRateMonitor"],
}
LOGGER_CLASSES = {
    "csv": "lightning.pytorch.loggers.CSVLogger",
    "tensorboard": "lightning.pytorch.loggers.TensorBoardLogger",
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict]]:
    """Every project of the covering set, rendered once: name -> (folder, the answers copier recorded)."""
    return render_projects(tmp_path_factory, "classifier", PROJECTS)


def test_covering_set_uses_every_choice(rendered: dict[str, tuple[Path, dict]]) -> None:
    recorded = [answers for _, answers in rendered.values()]
    for name, question in questions(TEMPLATE_DIR).items():
        used: set[str] = set()
        for answers in recorded:
            value = answers[name]
            used |= {str(item).lower() for item in (value if isinstance(value, list) else [value])}
        missing = set(choices(question)) - used
        assert not missing, f"no project answers {name} with {sorted(missing)}"
        if name in ("devices", "num_nodes"):
            assert len(used) > 1, f"{name} needs a default and a non-default answer"


def test_default_project_layout(rendered: dict[str, tuple[Path, dict]]) -> None:
    dest, answers = rendered["defaults"]
    files = sorted(path.relative_to(dest).as_posix() for path in dest.rglob("*") if path.is_file())
    package = answers["package_name"]
    assert package == "digits_classifier"  # derived from the default project_name
    assert files == sorted(
        [
            ".copier-answers.yml",
            ".gitignore",
            "README.md",
            "configs/default.yaml",
            "pyproject.toml",
            *(f"src/{package}/{module}.py" for module in ("__init__", "__main__", "callbacks", "data", "model")),
            "tests/conftest.py",
            "tests/test_training.py",
        ]
    )
    assert answers["_src_path"] == "litgen:classifier"  # resolved by litgen update to its versioned cache


@pytest.mark.parametrize("name", PROJECTS)
def test_config_matches_answers(rendered: dict[str, tuple[Path, dict]], name: str) -> None:
    dest, answers = rendered[name]
    config = yaml.safe_load((dest / "configs" / "default.yaml").read_text())
    trainer, package = config["trainer"], answers["package_name"]
    assert config["seed_everything"] == answers["seed"] == config["data"]["split_seed"]
    assert trainer["precision"] == answers["precision"]
    assert trainer["accelerator"] == answers["accelerator"]
    assert str(trainer["devices"]) == answers["devices"]
    assert trainer["strategy"] == answers["strategy"]
    assert trainer["num_nodes"] == answers["num_nodes"]
    assert trainer["max_epochs"] == answers["max_epochs"]
    assert trainer["deterministic"] is answers["deterministic"]
    if answers["logger"] == "none":
        assert trainer["logger"] is False
    else:
        assert trainer["logger"]["class_path"] == LOGGER_CLASSES[answers["logger"]]
    callback_classes = [callback["class_path"] for callback in trainer["callbacks"]]
    assert callback_classes == [
        *(path for choice, paths in CALLBACK_CLASSES.items() if choice in answers["callbacks"] for path in paths),
        f"{package}.callbacks.BestScoreTracker",
        f"{package}.callbacks.CsvPredictionWriter",
    ]
    model = config["model"]
    assert (model["optimizer"], model["scheduler"]) == (answers["optimizer"], answers["scheduler"])
    assert float(model["lr"]) == answers["learning_rate"]
    assert config["data"]["batch_size"] == answers["batch_size"]
    for key in ("fast_dev_run", "limit_train_batches", "overfit_batches"):
        assert key not in trainer, "debug flags belong on the command line, not in the shipped config"


@pytest.mark.parametrize("name", PROJECTS)
def test_pyproject_and_slurm_script_match_answers(rendered: dict[str, tuple[Path, dict]], name: str) -> None:
    dest, answers = rendered[name]
    toml = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    pyproject = toml.loads((dest / "pyproject.toml").read_text())
    package = answers["package_name"]
    assert pyproject["tool"]["litgen"] == {
        "template": "classifier",
        "module": package,
        "check-args": ["fit", "--config", "configs/default.yaml"],
    }
    assert pyproject["project"]["name"] == package.replace("_", "-")
    dependencies = " ".join(pyproject["project"]["dependencies"])
    assert ("tensorboard" in dependencies) == (answers["logger"] == "tensorboard")
    extras = pyproject["project"]["optional-dependencies"]
    assert ("deepspeed" in extras) == (answers["strategy"] == "deepspeed_stage_2")
    assert pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == [f"src/{package}"]

    script = dest / "scripts" / "train.sbatch"
    readme = (dest / "README.md").read_text()
    assert f"python -m {package} fit --config configs/default.yaml" in readme
    assert script.exists() == answers["slurm"] == ("sbatch scripts/train.sbatch" in readme)
    if answers["slurm"]:
        text = script.read_text()
        assert f"#SBATCH --nodes={answers['num_nodes']}\n" in text
        assert f"#SBATCH --ntasks-per-node={answers['devices']}\n" in text
        assert ("--gpus-per-node" in text) == (answers["accelerator"] != "cpu")
        assert f"srun python -m {package} fit" in text
        assert os.access(script, os.X_OK)


@pytest.mark.parametrize("name", PROJECTS)
def test_rendered_text_is_clean(rendered: dict[str, tuple[Path, dict]], name: str) -> None:
    """No Jinja leftovers: no trailing whitespace, no blank-line runs, one final newline, docstrings, valid code."""
    dest, _ = rendered[name]
    assert_rendered_text_is_clean(dest)


def test_answer_dependent_defaults(tmp_path: Path) -> None:
    sgd = create_project(tmp_path / "sgd", answers={"optimizer": "sgd", "logger": "none"}, use_defaults=True).dest
    answers = yaml.safe_load((sgd / ".copier-answers.yml").read_text())
    assert answers["learning_rate"] == 0.05  # SGD wants a larger step than Adam's 1e-3
    assert answers["callbacks"] == ["model_checkpoint"]  # lr_monitor needs a logger
    named = create_project(tmp_path / "named", answers={"project_name": "My Cool-Project 2"}, use_defaults=True).dest
    assert (named / "src" / "my_cool_project_2" / "__main__.py").is_file()


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"accelerator": "cpu", "precision": "16-mixed"}, "precision 16-mixed needs a GPU"),
        ({"accelerator": "cpu", "strategy": "fsdp"}, "strategy fsdp needs GPUs"),
        ({"accelerator": "cpu", "strategy": "deepspeed_stage_2"}, "strategy deepspeed_stage_2 needs GPUs"),
        ({"num_nodes": "2"}, "num_nodes 2 needs a distributed strategy"),
        ({"logger": "none", "callbacks": "lr_monitor"}, "lr_monitor logs to the logger, but logger is none"),
        ({"slurm": "true"}, "slurm needs a fixed device count"),
        ({"package_name": "My-Pkg"}, "valid lowercase Python identifier"),
        ({"package_name": "1digits"}, "valid lowercase Python identifier"),
        ({"package_name": "class"}, "is a Python keyword"),
        ({"package_name": "json"}, "shadow the standard-library module"),
        ({"package_name": "test"}, "shadow the standard-library module"),
        ({"package_name": "torch"}, "shadow the installed package"),
        ({"project_name": "Lightning"}, "shadow the installed package"),  # the derived package name is checked too
        ({"project_name": "  "}, "project_name must not be empty"),
        ({"project_name": 'The "best" digits'}, "without double quotes"),
        ({"learning_rate": "0"}, "learning_rate must be > 0"),
        ({"learning_rate": "fast"}, "--data learning_rate: expected a number, got 'fast'"),
        ({"max_epochs": "0"}, "max_epochs must be >= 1"),
        ({"batch_size": "0"}, "batch_size must be >= 1"),
        ({"seed": "-1"}, "seed must be in"),
        ({"devices": "0"}, "devices must be 'auto' or a positive integer"),
        ({"devices": "two"}, "devices must be 'auto' or a positive integer"),
        ({"num_nodes": "0", "strategy": "ddp"}, "num_nodes must be >= 1"),
        ({"optimizer": "rmsprop"}, "Invalid choice for 'optimizer'"),
        ({"callbacks": "model_checkpoint, swa"}, "Invalid choice for 'callbacks': 'swa'"),
    ],
)
def test_impossible_answers_are_refused(tmp_path: Path, answers: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        create_project(tmp_path / "proj", answers=answers, use_defaults=True)
    assert not (tmp_path / "proj").exists()


def test_package_name_refuses_every_stdlib_module() -> None:
    """The validator's list is checked against this interpreter's sys.stdlib_module_names."""
    assert_package_name_refuses_every_stdlib_module(TEMPLATE_DIR, "digits_classifier")


# ---------------------------------------------------------------- slow: the rendered projects really train


@pytest.mark.slow
@pytest.mark.parametrize("name", PROJECTS)
def test_rendered_project_test_suite_passes(rendered: dict[str, tuple[Path, dict]], name: str) -> None:
    dest, _ = rendered[name]
    assert_project_test_suite_passes(dest)


@pytest.mark.slow
def test_default_project_reaches_90_percent_in_under_a_minute(rendered: dict[str, tuple[Path, dict]]) -> None:
    """The full default training run on CPU (about 5 s of wall time on an idle 2-core machine).

    The time limit applies to the CPU time the run used, which other jobs on a shared machine barely change.
    """
    dest, answers = rendered["defaults"]
    env = {**os.environ, "PYTHONPATH": str(dest / "src")}
    command = [
        *(sys.executable, "-m", answers["package_name"], "fit", "--config", "configs/default.yaml"),
        *("--trainer.accelerator=cpu", "--trainer.enable_progress_bar=false"),
    ]
    cpu_before = children_cpu_seconds()
    result = subprocess.run(command, cwd=dest, env=env, capture_output=True, text=True, timeout=300)
    cpu_seconds = children_cpu_seconds() - cpu_before
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    match = re.search(r"best val_acc=(\d\.\d+) at epoch (\d+)", result.stdout)
    assert match, result.stdout[-2000:]
    assert float(match.group(1)) >= 0.90
    assert cpu_seconds < 60
