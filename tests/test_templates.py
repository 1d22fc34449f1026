"""Every task of the shared template, over its covering answer sets: what renders, what is refused, what trains."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from template_cases import SHARED_REFUSALS, TASKS, TaskCase
from template_helpers import (
    assert_litgen_check_passes,
    assert_package_name_refuses_every_stdlib_module,
    assert_project_test_suite_passes,
    assert_rendered_text_is_clean,
    children_cpu_seconds,
    render_projects,
)

from litgen.catalog import find_template, templates_root
from litgen.errors import UsageError
from litgen.new import create_project

Rendered = dict[
    str, dict[str, tuple[Path, dict]]
]  # task -> case -> (folder, the answers copier recorded)
CASES = [(task, case) for task, spec in TASKS.items() for case in spec.projects]
CASE_IDS = [f"{task}-{case}" for task, case in CASES]
REFUSALS = [
    (task, answers, message)
    for task, spec in TASKS.items()
    for answers, message in [*SHARED_REFUSALS, *spec.refusals]
]
CALLBACK_CLASSES = {  # model_checkpoint keeps the best epoch and last.ckpt, and reports the best
    "model_checkpoint": [
        "lightning.pytorch.callbacks.ModelCheckpoint",
        "{package}.callbacks.BestScoreTracker",
    ],
    "early_stopping": ["lightning.pytorch.callbacks.EarlyStopping"],
    "lr_monitor": ["lightning.pytorch.callbacks.LearningRateMonitor"],
}
LOGGER_CLASSES = {
    "csv": "lightning.pytorch.loggers.CSVLogger",
    "tensorboard": "lightning.pytorch.loggers.TensorBoardLogger",
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """Every case of every task, rendered once."""
    return {
        task: render_projects(tmp_path_factory, task, spec.projects) for task, spec in TASKS.items()
    }


def project_env(spec: TaskCase, dest: Path | None = None) -> dict[str, str]:
    """This environment, with one CPU thread where the task asks for it, and DEST's src/ importable."""
    env = dict(os.environ)
    if spec.one_thread:
        env["OMP_NUM_THREADS"] = "1"
    else:  # as a user runs it: the CLI then picks its own CPU thread count
        env.pop("OMP_NUM_THREADS", None)
    if dest is not None:
        env["PYTHONPATH"] = str(dest / "src")
    return env


@pytest.mark.parametrize("task", TASKS)
def test_listed_with_a_one_line_description(task: str) -> None:
    info = find_template(task)
    assert TASKS[task].description_word in info.description and "\n" not in info.description
    assert info.preset == {"task": task} and "task" not in info.questions


@pytest.mark.parametrize("task", TASKS)
def test_covering_set_uses_every_choice(rendered: Rendered, task: str) -> None:
    info = find_template(task)
    recorded = [answers for _, answers in rendered[task].values()]
    for question in info.questions:
        allowed = info.choices.get(question) or (
            ["true", "false"] if info.types.get(question) == "bool" else []
        )
        used = {str(item).lower() for answers in recorded for item in _listed(answers[question])}
        missing = {str(choice).lower() for choice in allowed} - used
        assert not missing, f"no {task} project answers {question} with {sorted(missing)}"
        if question in ("devices", "num_nodes"):
            assert len(used) > 1, f"{question} needs a default and a non-default answer"


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("task", TASKS)
def test_default_project_layout(rendered: Rendered, task: str) -> None:
    dest, answers = rendered[task]["defaults"]
    spec, package = TASKS[task], answers["package_name"]
    assert package == spec.default_package  # derived from the task's default project_name
    modules = (
        "__init__",
        "__main__",
        "callbacks",
        "data",
        "inmemory",
        "model",
        *spec.extra_modules,
    )
    files = sorted(path.relative_to(dest).as_posix() for path in dest.rglob("*") if path.is_file())
    assert files == sorted(
        [
            *(".copier-answers.yml", ".gitignore", "README.md", "pyproject.toml"),
            *("configs/default.yaml", "configs/barebones.yaml"),
            *(f"src/{package}/{module}.py" for module in modules),
            *("tests/conftest.py", "tests/test_training.py", "tests/test_model.py"),
        ]
    )
    assert (answers["_src_path"], answers["task"]) == (
        f"litgen:{task}",
        task,
    )  # update resolves it to the cache


@pytest.mark.parametrize(("task", "case"), CASES, ids=CASE_IDS)
def test_config_matches_answers(rendered: Rendered, task: str, case: str) -> None:
    dest, answers = rendered[task][case]
    spec, package = TASKS[task], answers["package_name"]
    config = yaml.safe_load((dest / "configs" / "default.yaml").read_text())
    trainer, model = config["trainer"], config["model"]
    assert config["seed_everything"] == answers["seed"] == config["data"]["split_seed"]
    for key in ("precision", "accelerator", "strategy", "num_nodes", "max_epochs", "deterministic"):
        assert trainer[key] == answers[key], key
    assert str(trainer["devices"]) == answers["devices"]
    if answers["logger"] == "none":
        assert trainer["logger"] is False
    else:
        assert trainer["logger"]["class_path"] == LOGGER_CLASSES[answers["logger"]]
    assert [callback["class_path"] for callback in trainer["callbacks"]] == [
        *(
            path.format(package=package)
            for choice, paths in CALLBACK_CLASSES.items()
            if choice in answers["callbacks"]
            for path in paths
        ),
        f"{package}.callbacks.{spec.writer}",
    ]
    # Every callback that ranks epochs ranks them by the task's metric.
    monitors = {
        c["init_args"]["monitor"]
        for c in trainer["callbacks"]
        if "monitor" in c.get("init_args", {})
    }
    assert monitors <= {spec.metric}
    for answer, key in spec.model_keys.items():
        assert model[key] == answers[answer], key
    if "learning_rate" in answers:
        assert float(model["lr"]) == answers["learning_rate"]
    assert config["data"]["batch_size"] == answers["batch_size"]
    for key in ("fast_dev_run", "limit_train_batches", "overfit_batches", "barebones"):
        assert key not in trainer, (
            "debug flags belong on the command line, not in the shipped config"
        )
    barebones = yaml.safe_load((dest / "configs" / "barebones.yaml").read_text())["trainer"]
    assert (
        barebones["barebones"] is True
        and barebones["logger"] is False
        and barebones["callbacks"] == []
    )


@pytest.mark.parametrize(("task", "case"), CASES, ids=CASE_IDS)
def test_pyproject_readme_and_slurm_script_match_answers(
    rendered: Rendered, task: str, case: str
) -> None:
    dest, answers = rendered[task][case]
    toml = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    pyproject = toml.loads((dest / "pyproject.toml").read_text())
    package = answers["package_name"]
    assert pyproject["tool"]["litgen"] == {
        "template": task,
        "module": package,
        "check-args": ["fit", "--config", "configs/default.yaml"],
    }
    assert pyproject["project"]["name"] == package.replace("_", "-")
    dependencies = " ".join(pyproject["project"]["dependencies"])
    assert ("tensorboard" in dependencies) == (answers["logger"] == "tensorboard")
    assert ("scikit-learn" in dependencies) == (task in ("classifier", "regression", "autoencoder"))
    assert ("deepspeed" in pyproject["project"]["optional-dependencies"]) == (
        answers["strategy"] == "deepspeed_stage_2"
    )
    assert pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == [f"src/{package}"]

    readme = (dest / "README.md").read_text()
    assert f"python -m {package} fit --config configs/default.yaml" in readme
    assert (
        f"python -m {package} fit --config configs/default.yaml --config configs/barebones.yaml"
        in readme
    )
    for phrase, expected in TASKS[task].readme:
        assert (phrase in readme) == bool(expected(answers)), phrase
    script = dest / "scripts" / "train.sbatch"
    assert script.exists() == answers["slurm"] == ("sbatch scripts/train.sbatch" in readme)
    if answers["slurm"]:
        text = script.read_text()
        assert f"#SBATCH --nodes={answers['num_nodes']}\n" in text
        assert f"#SBATCH --ntasks-per-node={answers['devices']}\n" in text
        assert ("--gpus-per-node" in text) == (answers["accelerator"] != "cpu")
        assert f"srun python -m {package} fit" in text
        assert os.access(script, os.X_OK)


@pytest.mark.parametrize(("task", "case"), CASES, ids=CASE_IDS)
def test_rendered_text_is_clean(rendered: Rendered, task: str, case: str) -> None:
    """No Jinja leftovers, no trailing whitespace, docstrings, valid code, and no `from conftest import`."""
    dest, _ = rendered[task][case]
    assert_rendered_text_is_clean(dest)
    for test_file in (dest / "tests").glob("*.py"):
        assert "from conftest" not in test_file.read_text(), (
            f"{test_file.name}: use fixtures, not imports"
        )


@pytest.mark.parametrize("task", TASKS)
def test_answer_dependent_defaults(tmp_path: Path, task: str) -> None:
    for index, (given, expected) in enumerate(TASKS[task].defaults):
        dest = create_project(
            tmp_path / str(index), template=task, answers=given, use_defaults=True
        ).dest
        recorded = yaml.safe_load((dest / ".copier-answers.yml").read_text())
        assert {key: recorded[key] for key in expected} == expected, given
    named = create_project(
        tmp_path / "named",
        template=task,
        answers={"project_name": "My Cool-Project 2"},
        use_defaults=True,
    ).dest
    assert (named / "src" / "my_cool_project_2" / "__main__.py").is_file()


@pytest.mark.parametrize(
    ("task", "answers", "message"), REFUSALS, ids=[f"{t}-{m[:40]}" for t, _, m in REFUSALS]
)
def test_impossible_answers_are_refused(
    tmp_path: Path, task: str, answers: dict[str, str], message: str
) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        create_project(tmp_path / "proj", template=task, answers=answers, use_defaults=True)
    assert not (tmp_path / "proj").exists()


def test_package_name_refuses_every_stdlib_module() -> None:
    """The validator's list is checked against this interpreter's sys.stdlib_module_names."""
    assert_package_name_refuses_every_stdlib_module(
        templates_root() / "lightning", "digits_classifier"
    )


def test_copier_copy_of_the_shipped_template_asks_the_task(tmp_path: Path) -> None:
    """The shipped folder is a plain copier template: `copier copy` renders any task from it."""
    copier = Path(sys.executable).with_name("copier")
    command = [
        str(copier),
        "copy",
        "--defaults",
        "--quiet",
        "--data",
        "task=gan",
        str(templates_root() / "lightning"),
    ]
    subprocess.run([*command, str(tmp_path / "gan")], check=True, capture_output=True, timeout=120)
    answers = yaml.safe_load((tmp_path / "gan" / ".copier-answers.yml").read_text())
    assert (
        answers["task"] == "gan"
        and (tmp_path / "gan" / "src" / "ring_gan" / "metrics.py").is_file()
    )


# ---------------------------------------------------------------- slow: the rendered projects really train


@pytest.mark.slow
@pytest.mark.parametrize(("task", "case"), CASES, ids=CASE_IDS)
def test_rendered_project_test_suite_passes(rendered: Rendered, task: str, case: str) -> None:
    dest, _ = rendered[task][case]
    assert_project_test_suite_passes(dest, env=project_env(TASKS[task]))


@pytest.mark.slow
def test_litgen_check_passes_every_project(rendered: Rendered) -> None:
    results = assert_litgen_check_passes(
        [dest for cases in rendered.values() for dest, _ in cases.values()]
    )
    assert all(result.train_batches >= 1 for result in results)


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS)
def test_default_project_reaches_its_metric_bar(rendered: Rendered, task: str) -> None:
    """The default configuration's training run, as its README starts it, reaches the task's bar in its CPU budget."""
    spec, (dest, answers) = TASKS[task], rendered[task]["defaults"]
    assert spec.metric_bar is not None
    command = [
        *(sys.executable, "-m", answers["package_name"], "fit", "--config", "configs/default.yaml"),
        *(
            "--trainer.accelerator=cpu",
            "--trainer.enable_progress_bar=false",
            *spec.metric_bar.extra_args,
        ),
    ]
    cpu_before = children_cpu_seconds()
    result = subprocess.run(
        command, cwd=dest, env=project_env(spec, dest), capture_output=True, text=True, timeout=600
    )
    cpu_seconds = children_cpu_seconds() - cpu_before
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    match = re.search(spec.metric_bar.pattern, result.stdout)
    assert match, result.stdout[-2000:]
    metrics = {name: float(value) for name, value in match.groupdict().items()}
    assert spec.metric_bar.reached(metrics), metrics
    assert cpu_seconds < spec.metric_bar.cpu_seconds


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS)
def test_barebones_readme_command_trains(rendered: Rendered, task: str) -> None:
    """The README's barebones command (one short epoch here) trains without writing logs or checkpoints."""
    spec, (dest, answers) = TASKS[task], rendered[task]["defaults"]
    configs = dest / "configs"
    command = [
        *(sys.executable, "-m", answers["package_name"], "fit", "--trainer.accelerator=cpu"),
        *("--config", str(configs / "default.yaml"), "--config", str(configs / "barebones.yaml")),
        *(
            "--trainer.max_epochs=1",
            "--trainer.limit_train_batches=5",
            "--trainer.limit_val_batches=2",
        ),
    ]
    workdir = (
        dest.parent / f"{dest.name}-barebones"
    )  # the run's own folder: what it writes is easy to see
    workdir.mkdir()
    result = subprocess.run(
        command,
        cwd=workdir,
        env=project_env(spec, dest),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "barebones=True" in result.stderr and "best " not in result.stdout
    assert not list(workdir.rglob("*.ckpt"))
