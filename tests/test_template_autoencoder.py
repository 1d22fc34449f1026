"""The `autoencoder` template: answers reach the rendered files, impossible answers are refused, projects train."""

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
    children_cpu_seconds,
    choices,
    questions,
    render_projects,
)

from litgen.errors import UsageError
from litgen.new import create_project, find_template, templates_root

TEMPLATE = "autoencoder"
TEMPLATE_DIR = templates_root() / TEMPLATE

# A covering set: together these use every choice of every question at least once. Four projects,
# because strategy has four values and each project's own test suite costs ~10 s to run.
PROJECTS: dict[str, dict[str, str]] = {
    "defaults": {},
    "cpu_ddp": {
        "package_name": "bare_digits_vae",
        "architecture": "mlp",
        "latent_dim": "2",
        "variational": "true",
        "input_noise": "0.3",
        "optimizer": "sgd",
        "scheduler": "plateau",
        "precision": "bf16-mixed",
        "accelerator": "cpu",
        "devices": "2",
        "strategy": "ddp",
        "logger": "none",
        "callbacks": "",
        "max_epochs": "3",
        "batch_size": "32",
        "seed": "7",
    },
    "gpu_cluster": {
        "project_name": "Cluster Digits VAE",
        "variational": "true",
        "optimizer": "adamw",
        "learning_rate": "0.001",
        "scheduler": "step",
        "precision": "16-mixed",
        "accelerator": "gpu",
        "devices": "4",
        "strategy": "fsdp",
        "num_nodes": "2",
        "logger": "tensorboard",
        "callbacks": "model_checkpoint, early_stopping, lr_monitor",
        "deterministic": "false",
        "slurm": "true",
    },
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
}

CALLBACK_CLASSES = {  # model_checkpoint keeps two checkpoints: the best by val_mse and the latest
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
    return render_projects(tmp_path_factory, TEMPLATE, PROJECTS)


def test_listed_with_a_one_line_description() -> None:
    from typer.testing import CliRunner

    from litgen.cli import app

    info = find_template(TEMPLATE)
    assert "digits" in info.description and "\n" not in info.description
    assert {"architecture", "latent_dim", "variational", "input_noise"} <= set(info.questions)
    result = CliRunner().invoke(app, ["templates"])
    assert result.exit_code == 0
    assert any(line.split(maxsplit=1) == [TEMPLATE, info.description] for line in result.stdout.splitlines())


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
    assert package == "digits_autoencoder"  # derived from the default project_name
    assert files == sorted(
        [
            ".copier-answers.yml",
            ".gitignore",
            "README.md",
            "configs/default.yaml",
            "pyproject.toml",
            *(f"src/{package}/{module}.py" for module in ("__init__", "__main__", "callbacks", "data", "model")),
            f"src/{package}/networks.py",
            "tests/conftest.py",
            "tests/test_training.py",
        ]
    )
    assert answers["_src_path"] == f"litgen:{TEMPLATE}"  # resolved by litgen update to its versioned cache


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
    callbacks = trainer["callbacks"]
    assert [callback["class_path"] for callback in callbacks] == [
        *(path for choice, paths in CALLBACK_CLASSES.items() if choice in answers["callbacks"] for path in paths),
        f"{package}.callbacks.BestScoreTracker",
        f"{package}.callbacks.CsvEmbeddingWriter",
    ]
    for callback in callbacks:  # everything that ranks epochs wants a low reconstruction error
        if "monitor" in callback.get("init_args", {}):
            assert (callback["init_args"]["monitor"], callback["init_args"]["mode"]) == ("val_mse", "min")
    tracker = callbacks[-2]["init_args"]
    assert tracker.get("also") == (["val_kl"] if answers["variational"] else None)
    model = config["model"]
    for key in ("architecture", "latent_dim", "variational", "input_noise", "optimizer", "scheduler"):
        assert model[key] == answers[key], key
    assert ("kl_weight" in model) == answers["variational"]
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
        "template": TEMPLATE,
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
    assert ("It is variational" in readme) == answers["variational"]
    assert ("It is denoising" in readme) == (answers["input_noise"] > 0)
    assert f"z{answers['latent_dim'] - 1}`" in readme  # the last column of the embeddings file
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
    def recorded(name: str, answers: dict[str, str]) -> dict:
        dest = create_project(tmp_path / name, template=TEMPLATE, answers=answers, use_defaults=True).dest
        return yaml.safe_load((dest / ".copier-answers.yml").read_text())

    # SGD needs a larger step than Adam's 3e-3, and a larger one still for the MLP.
    assert recorded("sgd_conv", {"optimizer": "sgd", "logger": "none"})["learning_rate"] == 0.05
    sgd_mlp = recorded("sgd_mlp", {"optimizer": "sgd", "architecture": "mlp", "logger": "none"})
    assert sgd_mlp["learning_rate"] == 0.2
    assert sgd_mlp["callbacks"] == ["model_checkpoint"]  # lr_monitor needs a logger
    named = create_project(
        tmp_path / "named", template=TEMPLATE, answers={"project_name": "My Cool-Project 2"}, use_defaults=True
    ).dest
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
        ({"package_name": "class"}, "is a Python keyword"),
        ({"package_name": "copy"}, "shadow the standard-library module"),
        ({"package_name": "torchvision"}, "shadow the installed package"),
        ({"project_name": "Numpy"}, "shadow the installed package"),  # the derived package name is checked too
        ({"project_name": "  "}, "project_name must not be empty"),
        ({"description": "two\nlines"}, "description must be a single line"),
        ({"learning_rate": "0"}, "learning_rate must be > 0"),
        ({"latent_dim": "big"}, "--data latent_dim: expected an integer, got 'big'"),
        ({"max_epochs": "0"}, "max_epochs must be >= 1"),
        ({"batch_size": "0"}, "batch_size must be >= 1"),
        ({"seed": "-1"}, "seed must be in"),
        ({"devices": "two"}, "devices must be 'auto' or a positive integer"),
        ({"num_nodes": "0", "strategy": "ddp"}, "num_nodes must be >= 1"),
        ({"latent_dim": "0"}, "latent_dim must be between 1 and 63"),
        ({"latent_dim": "64"}, "latent_dim must be between 1 and 63"),
        ({"input_noise": "-0.1"}, "input_noise must be >= 0"),
        ({"architecture": "resnet"}, "Invalid choice for 'architecture'"),
        ({"callbacks": "model_checkpoint, swa"}, "Invalid choice for 'callbacks': 'swa'"),
    ],
)
def test_impossible_answers_are_refused(tmp_path: Path, answers: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        create_project(tmp_path / "proj", template=TEMPLATE, answers=answers, use_defaults=True)
    assert not (tmp_path / "proj").exists()


def test_package_name_refuses_every_stdlib_module() -> None:
    """The validator's list is checked against this interpreter's sys.stdlib_module_names."""
    assert_package_name_refuses_every_stdlib_module(TEMPLATE_DIR, "digits_autoencoder")


# ---------------------------------------------------------------- slow: the rendered projects really train


@pytest.mark.slow
@pytest.mark.parametrize("name", PROJECTS)
def test_rendered_project_test_suite_passes(rendered: dict[str, tuple[Path, dict]], name: str) -> None:
    dest, _ = rendered[name]
    assert_project_test_suite_passes(dest)


@pytest.mark.slow
def test_litgen_check_passes_every_project(rendered: dict[str, tuple[Path, dict]]) -> None:
    results = assert_litgen_check_passes([dest for dest, _ in rendered.values()])
    assert all(result.train_batches >= 1 and result.val_batches >= 1 for result in results)


@pytest.mark.slow
def test_default_project_reconstructs_well_in_under_a_minute(rendered: dict[str, tuple[Path, dict]]) -> None:
    """The full default training run on CPU (about 8 s of wall time on an idle 2-core machine).

    The pixels are standardised to variance 1, and reconstructing every image as the mean training
    image scores 0.52; the default conv autoencoder with 16 latent dimensions gets about 0.05.
    """
    dest, answers = rendered["defaults"]
    # As a user runs it: the CLI then picks its own CPU thread count (one), and the time limit applies to
    # the CPU time used, which other jobs on a shared machine barely change.
    env = {key: value for key, value in os.environ.items() if key != "OMP_NUM_THREADS"}
    env["PYTHONPATH"] = str(dest / "src")
    command = [
        *(sys.executable, "-m", answers["package_name"], "fit", "--config", "configs/default.yaml"),
        *("--trainer.accelerator=cpu", "--trainer.enable_progress_bar=false"),
    ]
    cpu_before = children_cpu_seconds()
    result = subprocess.run(command, cwd=dest, env=env, capture_output=True, text=True, timeout=300)
    cpu_seconds = children_cpu_seconds() - cpu_before
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    match = re.search(r"best val_mse=(\d\.\d+) at epoch (\d+)", result.stdout)
    assert match, result.stdout[-2000:]
    assert float(match.group(1)) < 0.1
    assert cpu_seconds < 60
