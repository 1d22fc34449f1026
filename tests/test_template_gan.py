"""The `gan` template: answers reach the rendered files, impossible answers are refused, projects train."""

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

TEMPLATE = "gan"
TEMPLATE_DIR = templates_root() / TEMPLATE

# A covering set: together these use every choice of every question at least once. The model sizes
# stay small, because the slow tests run each project's own test suite.
PROJECTS: dict[str, dict[str, str]] = {
    "defaults": {},
    "gpu_cluster": {
        "project_name": "Cluster GAN",
        "loss": "hinge",
        "latent_dim": "4",
        "generator_lr": "0.0005",
        "discriminator_lr": "0.002",
        "n_critic": "2",
        "scheduler": "cosine",
        "gradient_clip_val": "0",
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
    "cpu_wgan": {
        "package_name": "critic_ring",
        "loss": "wgan-gp",
        "scheduler": "none",
        "gradient_clip_val": "5",
        "precision": "bf16-mixed",
        "accelerator": "cpu",
        "devices": "2",
        "logger": "none",
        "callbacks": "",
        "max_epochs": "3",
        "batch_size": "64",
        "seed": "7",
    },
}

CALLBACK_CLASSES = {  # model_checkpoint keeps two checkpoints: the best by val_tv and the latest
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
    assert package == "ring_gan"  # derived from the default project_name
    modules = ("__init__", "__main__", "callbacks", "data", "metrics", "model")
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
    assert config["seed_everything"] == answers["seed"] == data["split_seed"]
    assert trainer["precision"] == answers["precision"]
    assert trainer["accelerator"] == answers["accelerator"]
    assert str(trainer["devices"]) == answers["devices"]
    assert trainer["strategy"] == answers["strategy"]
    assert trainer["num_nodes"] == answers["num_nodes"]
    assert trainer["max_epochs"] == answers["max_epochs"]
    assert trainer["deterministic"] is answers["deterministic"]
    # Lightning refuses Trainer(gradient_clip_val=...) under manual optimization: the model clips.
    assert "gradient_clip_val" not in trainer
    assert float(model["gradient_clip_val"]) == answers["gradient_clip_val"]
    if answers["logger"] == "none":
        assert trainer["logger"] is False
    else:
        assert trainer["logger"]["class_path"] == LOGGER_CLASSES[answers["logger"]]
    callback_classes = [callback["class_path"] for callback in trainer["callbacks"]]
    assert callback_classes == [
        *(path for choice, paths in CALLBACK_CLASSES.items() if choice in answers["callbacks"] for path in paths),
        f"{package}.callbacks.BestScoreTracker",
        f"{package}.callbacks.CsvSampleWriter",
    ]
    for key in ("loss", "latent_dim", "generator_lr", "discriminator_lr", "n_critic", "scheduler"):
        assert model[key] == answers[key], key
    assert ("gp_weight" in model) == (answers["loss"] == "wgan-gp")
    assert model["spectral_norm"] is (answers["loss"] != "wgan-gp")
    assert data["batch_size"] == answers["batch_size"]
    assert "latent_dim" not in data, "the CLI links data.latent_dim to model.latent_dim"
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
    assert "scikit-learn" not in dependencies  # the data is generated in memory
    assert pyproject["project"]["optional-dependencies"] == {"dev": ["pytest>=8"]}

    readme = (dest / "README.md").read_text()
    assert f"python -m {package} fit --config configs/default.yaml" in readme
    assert f"random code of {answers['latent_dim']} numbers" in readme
    assert ("clips them to a global norm" in readme) == (answers["gradient_clip_val"] > 0)
    assert ("steps both by hand" in readme) == (answers["scheduler"] != "none")
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
    answers = {"loss": "wgan-gp", "logger": "none"}
    wgan = create_project(tmp_path / "wgan", template=TEMPLATE, answers=answers, use_defaults=True).dest
    recorded = yaml.safe_load((wgan / ".copier-answers.yml").read_text())
    assert recorded["n_critic"] == 5  # a Wasserstein critic is trained harder than the generator
    assert recorded["generator_lr"] == recorded["discriminator_lr"] == 0.001
    assert recorded["callbacks"] == ["model_checkpoint"]  # lr_monitor needs a logger
    model = yaml.safe_load((wgan / "configs" / "default.yaml").read_text())["model"]
    assert model["betas"] == [0.0, 0.9] and model["gp_weight"] == 10.0
    assert model["spectral_norm"] is False  # the gradient penalty already constrains the critic
    answers = {"project_name": "Tiny GAN 2"}
    named = create_project(tmp_path / "named", template=TEMPLATE, answers=answers, use_defaults=True).dest
    assert (named / "src" / "tiny_gan_2" / "__main__.py").is_file()


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"loss": "wgan-gp", "precision": "16-mixed"}, "loss wgan-gp cannot use precision 16-mixed"),
        ({"n_critic": "0"}, "n_critic must be between 1 and 100"),
        ({"latent_dim": "0"}, "latent_dim must be between 1 and 1024"),
        ({"generator_lr": "0"}, "generator_lr must be > 0"),
        ({"discriminator_lr": "-0.001"}, "discriminator_lr must be > 0"),
        ({"gradient_clip_val": "-1"}, "gradient_clip_val must be >= 0"),
        ({"strategy": "fsdp"}, "Invalid choice for 'strategy'"),
        ({"strategy": "deepspeed_stage_2"}, "Invalid choice for 'strategy'"),
        ({"loss": "lsgan"}, "Invalid choice for 'loss'"),
        ({"accelerator": "cpu", "precision": "16-mixed"}, "precision 16-mixed needs a GPU"),
        ({"num_nodes": "2"}, "num_nodes 2 needs a distributed strategy"),
        ({"logger": "none", "callbacks": "lr_monitor"}, "lr_monitor logs to the logger, but logger is none"),
        ({"slurm": "true"}, "slurm needs a fixed device count"),
        ({"package_name": "My-Pkg"}, "valid lowercase Python identifier"),
        ({"package_name": "lambda"}, "is a Python keyword"),
        ({"package_name": "random"}, "shadow the standard-library module"),
        ({"package_name": "lightning"}, "shadow the installed package"),
        ({"project_name": 'The "ring"'}, "without double quotes"),
        ({"max_epochs": "0"}, "max_epochs must be >= 1"),
        ({"batch_size": "0"}, "batch_size must be >= 1"),
        ({"seed": "4294967296"}, "seed must be in"),
        ({"devices": "0"}, "devices must be 'auto' or a positive integer"),
    ],
)
def test_impossible_answers_are_refused(tmp_path: Path, answers: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        create_project(tmp_path / "proj", template=TEMPLATE, answers=answers, use_defaults=True)
    assert not (tmp_path / "proj").exists()


def test_package_name_refuses_every_stdlib_module() -> None:
    """The validator's list is checked against this interpreter's sys.stdlib_module_names."""
    assert_package_name_refuses_every_stdlib_module(TEMPLATE_DIR, "ring_gan")


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
def test_default_project_covers_every_mode(rendered: dict[str, tuple[Path, dict]]) -> None:
    """The full default training run: the generator covers all eight modes (a collapsed one covers 1)."""
    dest, answers = rendered["defaults"]
    command = [
        *(sys.executable, "-m", answers["package_name"], "fit", "--config", "configs/default.yaml"),
        *("--trainer.accelerator=cpu", "--trainer.enable_progress_bar=false"),
    ]
    env = {**os.environ, **ONE_THREAD, "PYTHONPATH": str(dest / "src")}
    result = subprocess.run(command, cwd=dest, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    match = re.search(r"best val_tv=(\d\.\d+) at epoch \d+ \(val_modes=(\d+), val_hq=(\d\.\d+)\)", result.stdout)
    assert match, result.stdout[-2000:]
    assert int(match.group(2)) == 8
