"""The `sequence` template: answers reach the rendered files, impossible answers are refused, projects train."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from template_helpers import (
    assert_litgen_check_passes,
    assert_package_name_refuses_every_stdlib_module,
    assert_project_test_suite_passes,
    assert_rendered_text_is_clean,
    choices,
    questions,
    render_projects,
)

from litgen.errors import UsageError
from litgen.new import create_project, templates_root

TEMPLATE = "sequence"
TEMPLATE_DIR = templates_root() / TEMPLATE

# A covering set: together these use every choice of every question at least once. The model sizes
# stay small, because the slow tests run each project's own test suite.
PROJECTS: dict[str, dict[str, str]] = {
    "defaults": {},
    "gpu_cluster": {
        "project_name": "Cluster Chars",
        "context_length": "32",
        "d_model": "48",
        "n_layers": "3",
        "n_heads": "3",
        "optimizer": "sgd",
        "warmup_fraction": "0.1",
        "gradient_clip_val": "0.5",
        "precision": "16-mixed",
        "accelerator": "gpu",
        "devices": "4",
        "strategy": "deepspeed_stage_2",
        "num_nodes": "2",
        "logger": "tensorboard",
        "callbacks": "model_checkpoint, early_stopping, lr_monitor",
        "deterministic": "false",
        "slurm": "true",
    },
    "cpu_ddp": {
        "package_name": "bare_chars",
        "context_length": "48",
        "n_heads": "2",
        "optimizer": "adam",
        "learning_rate": "0.002",
        "warmup_fraction": "0",
        "gradient_clip_val": "0",
        "precision": "bf16-mixed",
        "accelerator": "cpu",
        "devices": "2",
        "strategy": "ddp",
        "logger": "none",
        "callbacks": "",
        "max_epochs": "2",
        "batch_size": "16",
        "seed": "7",
    },
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
}

CALLBACK_CLASSES = {  # model_checkpoint keeps two checkpoints: the best by val_ppl and the latest
    "model_checkpoint": ["lightning.pytorch.callbacks.ModelCheckpoint"] * 2,
    "early_stopping": ["lightning.pytorch.callbacks.EarlyStopping"],
    "lr_monitor": ["lightning.pytorch.callbacks.LearningRateMonitor"],
}
LOGGER_CLASSES = {
    "csv": "lightning.pytorch.loggers.CSVLogger",
    "tensorboard": "lightning.pytorch.loggers.TensorBoardLogger",
}
# Run rendered projects with one intra-op thread: beside other jobs on a small machine, OpenMP
# threads spin-waiting for a busy core can slow a model this small several times over.
ONE_THREAD = {"OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict]]:
    """Every project of the covering set, rendered once: name -> (folder, the answers copier recorded)."""
    return render_projects(tmp_path_factory, TEMPLATE, PROJECTS)


def test_covering_set_uses_every_choice(rendered: dict[str, tuple[Path, dict]]) -> None:
    recorded = [answers for _, answers in rendered.values()]
    for name, question in questions(TEMPLATE_DIR).items():
        used: set[str] = set()
        for answers in recorded:
            value = answers[name]
            used |= {str(item).lower() for item in (value if isinstance(value, list) else [value])}
        missing = set(choices(question)) - used
        assert not missing, f"no project answers {name} with {sorted(missing)}"
        if not choices(question) and name not in ("project_name", "package_name", "description"):
            assert len(used) > 1, f"{name} needs a default and a non-default answer"


def test_default_project_layout(rendered: dict[str, tuple[Path, dict]]) -> None:
    dest, answers = rendered["defaults"]
    files = sorted(path.relative_to(dest).as_posix() for path in dest.rglob("*") if path.is_file())
    package = answers["package_name"]
    assert package == "char_transformer"  # derived from the default project_name
    modules = ("__init__", "__main__", "callbacks", "data", "model", "tokenizer")
    assert files == sorted(
        [
            ".copier-answers.yml",
            ".gitignore",
            "README.md",
            "configs/default.yaml",
            "pyproject.toml",
            *(f"src/{package}/{module}.py" for module in modules),
            "tests/conftest.py",
            "tests/test_training.py",
        ]
    )
    assert answers["_src_path"] in (str(TEMPLATE_DIR), f"litgen:{TEMPLATE}")


@pytest.mark.parametrize("name", PROJECTS)
def test_config_matches_answers(rendered: dict[str, tuple[Path, dict]], name: str) -> None:
    dest, answers = rendered[name]
    config = yaml.safe_load((dest / "configs" / "default.yaml").read_text())
    trainer, model, data, package = config["trainer"], config["model"], config["data"], answers["package_name"]
    assert config["seed_everything"] == answers["seed"] == data["split_seed"] == model["generation_seed"]
    assert trainer["precision"] == answers["precision"]
    assert trainer["accelerator"] == answers["accelerator"]
    assert str(trainer["devices"]) == answers["devices"]
    assert trainer["strategy"] == answers["strategy"]
    assert trainer["num_nodes"] == answers["num_nodes"]
    assert trainer["max_epochs"] == answers["max_epochs"]
    assert trainer["deterministic"] is answers["deterministic"]
    assert float(trainer["gradient_clip_val"]) == answers["gradient_clip_val"]
    assert trainer["gradient_clip_algorithm"] == "norm"
    if answers["logger"] == "none":
        assert trainer["logger"] is False
    else:
        assert trainer["logger"]["class_path"] == LOGGER_CLASSES[answers["logger"]]
    callback_classes = [callback["class_path"] for callback in trainer["callbacks"]]
    assert callback_classes == [
        *(path for choice, paths in CALLBACK_CLASSES.items() if choice in answers["callbacks"] for path in paths),
        f"{package}.callbacks.BestScoreTracker",
        f"{package}.callbacks.JsonLinesPredictionWriter",
    ]
    for key in ("context_length", "d_model", "n_layers", "n_heads", "optimizer", "warmup_fraction"):
        assert model[key] == answers[key], key
    assert float(model["lr"]) == answers["learning_rate"]
    assert float(model["weight_decay"]) == (0.1 if answers["optimizer"] == "adamw" else 0.0)
    assert data["batch_size"] == answers["batch_size"]
    assert "context_length" not in data, "the CLI links data.context_length to model.context_length"
    for key in ("fast_dev_run", "limit_train_batches", "overfit_batches"):
        assert key not in trainer, "debug flags belong on the command line, not in the shipped config"


@pytest.mark.parametrize("name", PROJECTS)
def test_pyproject_readme_and_slurm_script_match_answers(rendered: dict[str, tuple[Path, dict]], name: str) -> None:
    dest, answers = rendered[name]
    toml = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    pyproject = toml.loads((dest / "pyproject.toml").read_text())
    package = answers["package_name"]
    assert pyproject["tool"]["litgen"] == {
        "template": TEMPLATE,
        "module": package,
        "check-args": ["fit", "--config", "configs/default.yaml"],
    }
    assert pyproject["project"]["name"] == package.replace("_", "-")
    dependencies = " ".join(pyproject["project"]["dependencies"])
    assert ("tensorboard" in dependencies) == (answers["logger"] == "tensorboard")
    assert "scikit-learn" not in dependencies  # the corpus comes with Python itself
    extras = pyproject["project"]["optional-dependencies"]
    assert ("deepspeed" in extras) == (answers["strategy"] == "deepspeed_stage_2")

    readme = (dest / "README.md").read_text()
    assert f"python -m {package} fit --config configs/default.yaml" in readme
    assert f"{answers['n_layers']} layers, width {answers['d_model']}" in readme
    assert ("global norm exceeds" in readme) == (answers["gradient_clip_val"] > 0)
    script = dest / "scripts" / "train.sbatch"
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
    answers = {"optimizer": "sgd", "logger": "none"}
    sgd = create_project(tmp_path / "sgd", template=TEMPLATE, answers=answers, use_defaults=True).dest
    answers = yaml.safe_load((sgd / ".copier-answers.yml").read_text())
    assert answers["learning_rate"] == 0.3  # plain SGD needs a far larger step than Adam's
    assert answers["callbacks"] == ["model_checkpoint"]  # lr_monitor needs a logger
    answers = {"project_name": "Tiny GPT 2"}
    named = create_project(tmp_path / "named", template=TEMPLATE, answers=answers, use_defaults=True).dest
    assert (named / "src" / "tiny_gpt_2" / "__main__.py").is_file()


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"d_model": "64", "n_heads": "5"}, "d_model 64 is not divisible by n_heads 5"),
        ({"d_model": "64", "n_heads": "5"}, "choose n_heads among 1, 2, 4, 8, 16, 32"),
        ({"n_heads": "0"}, "n_heads must be >= 1"),
        ({"d_model": "4"}, "d_model must be between 8 and 4096"),
        ({"n_layers": "0"}, "n_layers must be between 1 and 64"),
        ({"context_length": "4"}, "context_length must be between 8 and 2048"),
        ({"warmup_fraction": "1"}, "warmup_fraction must be in [0, 1)"),
        ({"warmup_fraction": "-0.1"}, "warmup_fraction must be in [0, 1)"),
        ({"gradient_clip_val": "-1"}, "gradient_clip_val must be >= 0"),
        ({"accelerator": "cpu", "precision": "16-mixed"}, "precision 16-mixed needs a GPU"),
        ({"accelerator": "cpu", "strategy": "fsdp"}, "strategy fsdp needs GPUs"),
        ({"accelerator": "cpu", "strategy": "deepspeed_stage_2"}, "strategy deepspeed_stage_2 needs GPUs"),
        ({"num_nodes": "2"}, "num_nodes 2 needs a distributed strategy"),
        ({"logger": "none", "callbacks": "lr_monitor"}, "lr_monitor logs to the logger, but logger is none"),
        ({"slurm": "true"}, "slurm needs a fixed device count"),
        ({"package_name": "My-Pkg"}, "valid lowercase Python identifier"),
        ({"package_name": "class"}, "is a Python keyword"),
        ({"package_name": "string"}, "shadow the standard-library module"),
        ({"package_name": "torch"}, "shadow the installed package"),
        ({"project_name": "  "}, "project_name must not be empty"),
        ({"learning_rate": "0"}, "learning_rate must be > 0"),
        ({"max_epochs": "0"}, "max_epochs must be >= 1"),
        ({"batch_size": "0"}, "batch_size must be >= 1"),
        ({"seed": "-1"}, "seed must be in"),
        ({"devices": "two"}, "devices must be 'auto' or a positive integer"),
        ({"optimizer": "rmsprop"}, "Invalid choice for 'optimizer'"),
    ],
)
def test_impossible_answers_are_refused(tmp_path: Path, answers: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        create_project(tmp_path / "proj", template=TEMPLATE, answers=answers, use_defaults=True)
    assert not (tmp_path / "proj").exists()


def test_package_name_refuses_every_stdlib_module() -> None:
    """The validator's list is checked against this interpreter's sys.stdlib_module_names."""
    assert_package_name_refuses_every_stdlib_module(TEMPLATE_DIR, "char_transformer")


# ---------------------------------------------------------------- slow: the rendered projects really train


@pytest.mark.slow
@pytest.mark.parametrize("name", PROJECTS)
def test_rendered_project_test_suite_passes(rendered: dict[str, tuple[Path, dict]], name: str) -> None:
    dest, _ = rendered[name]
    assert_project_test_suite_passes(dest, env={**os.environ, **ONE_THREAD})


@pytest.mark.slow
def test_litgen_check_passes_every_rendered_project(rendered: dict[str, tuple[Path, dict]]) -> None:
    assert_litgen_check_passes([dest for dest, _ in rendered.values()])


@pytest.mark.slow
def test_default_project_beats_simple_baselines_in_half_an_epoch(rendered: dict[str, tuple[Path, dict]]) -> None:
    """Half an epoch of the default configuration (the full default run, six epochs, reaches about 5).

    On the validation split, guessing uniformly over the 96 characters scores a perplexity of 96, a
    character-unigram model about 26 and a bigram model about 14; half an epoch scores about 14.
    """
    dest, answers = rendered["defaults"]
    command = [
        *(sys.executable, "-m", answers["package_name"], "fit", "--config", "configs/default.yaml"),
        *("--trainer.accelerator=cpu", "--trainer.enable_progress_bar=false"),
        *("--trainer.max_epochs=1", "--trainer.limit_train_batches=0.5"),
    ]
    env = {**os.environ, **ONE_THREAD, "PYTHONPATH": str(dest / "src")}
    result = subprocess.run(command, cwd=dest, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    match = re.search(r"best val_ppl=(\d+\.\d+) at epoch 0", result.stdout)
    assert match, result.stdout[-2000:]
    assert float(match.group(1)) < 20
