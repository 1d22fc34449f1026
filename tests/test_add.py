"""Tests for litgen.add: components land in a generated project without touching the rest.

The fast tests render the real `classifier` template (no Lightning run); one slow test runs the
added components' own tests inside the generated project (the exported model's equivalence).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from versioned_templates import commit_all, isolate_git

from litgen.add import add_component
from litgen.errors import UsageError
from litgen.new import create_project
from litgen.yaml_text import append_list_item

CONFIG = "configs/default.yaml"


@pytest.fixture
def git_identity(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    # one cache: the bundle unpacks once
    isolate_git(monkeypatch, tmp_path_factory.getbasetemp() / "litgen-cache")


def classifier(tmp_path: Path, **answers: str) -> Path:
    project = create_project(
        tmp_path / "proj", template="classifier", answers=answers, use_defaults=True
    ).dest
    commit_all(project, "generated")
    return project


def added_lines(before: str, after: str) -> list[str]:
    """AFTER must be BEFORE with lines inserted: return those lines (fails if anything else changed)."""
    old, new = before.splitlines(), after.splitlines()
    inserted: list[str] = []
    position = 0
    for line in new:
        if position < len(old) and line == old[position]:
            position += 1
        else:
            inserted.append(line)
    assert position == len(old), "an existing line was changed or removed"
    return inserted


# --- inserting into YAML text ---------------------------------------------------------------------

ITEM = ["# mine", "- class_path: a.B", "  init_args:", "    x: 1"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "trainer:\n  max_epochs: 3\n  callbacks:\n    - class_path: a.A\n  # trailing comment\n\nmodel:\n  lr: 1\n",
            "trainer:\n  max_epochs: 3\n  callbacks:\n    - class_path: a.A\n"
            "    # mine\n    - class_path: a.B\n      init_args:\n        x: 1\n  # "
            "trailing comment\n\nmodel:\n  lr: 1\n",
        ),
        (  # list items at the key's own indentation
            "trainer:\n  callbacks:\n  - class_path: a.A\n  max_epochs: 3\n",
            "trainer:\n  callbacks:\n  - class_path: a.A\n  # mine\n  - class_path: a.B\n    init_args:\n      x: 1\n"
            "  max_epochs: 3\n",
        ),
        (
            "trainer:\n    callbacks: []  # none yet\n",
            "trainer:\n    callbacks:\n      # mine\n      - class_path: a.B\n        init_args:\n          x: 1\n",
        ),
        (
            "trainer:\n  max_epochs: 3\nmodel: {}",
            "trainer:\n  max_epochs: 3\n  callbacks:\n    # mine\n    - class_path: a.B\n  "
            "    init_args:\n        x: 1\n"
            "model: {}\n",
        ),
    ],
)
def test_append_list_item_keeps_everything_else(text: str, expected: str) -> None:
    assert append_list_item(text, ("trainer", "callbacks"), ITEM) == expected


@pytest.mark.parametrize(
    "text",
    [
        "model:\n  lr: 1\n",  # no trainer section
        "trainer: {callbacks: []}\n",  # flow style
        "trainer:\n  callbacks: [{class_path: a.A}]\n",
        "trainer:\n  callbacks: &shared\n    - class_path: a.A\n",  # an anchor: text insertion is not safe
    ],
)
def test_append_list_item_gives_up_on_unusual_layouts(text: str) -> None:
    assert append_list_item(text, ("trainer", "callbacks"), ITEM) is None


# --- components made of files ---------------------------------------------------------------------


def test_callback_adds_a_module_a_test_and_one_config_entry(
    tmp_path: Path, git_identity: None
) -> None:
    project = classifier(tmp_path)
    config_before = (project / CONFIG).read_text()

    report = add_component(project, "callback", {"name": "GradientWatch"})

    assert report.added == [
        "src/digits_classifier/gradient_watch.py",
        "tests/test_gradient_watch.py",
    ]
    assert report.changed == [CONFIG]
    assert added_lines(config_before, (project / CONFIG).read_text()) == [
        "    # GradientWatch: added by `litgen add callback` (src/digits_classifier/gradient_watch.py)",
        "    - class_path: digits_classifier.gradient_watch.GradientWatch",
        "      init_args:",
        "        log_name: epoch_seconds",
    ]
    module = (project / "src/digits_classifier/gradient_watch.py").read_text()
    assert "class GradientWatch(Callback):" in module and "def state_key(self)" in module
    compile(module, "gradient_watch.py", "exec")
    compile(
        (project / "tests/test_gradient_watch.py").read_text(), "test_gradient_watch.py", "exec"
    )
    with pytest.raises(
        UsageError, match="already registers digits_classifier.gradient_watch.GradientWatch"
    ):
        add_component(project, "callback", {"name": "GradientWatch"})


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("lowercase", "CamelCase"),
        ("Model", "already has src/digits_classifier/model.py"),
        ("A-B", "CamelCase"),
        ("Class", "would live in class.py, and `class` is a Python keyword"),
    ],
)
def test_callback_names_that_cannot_work_are_refused(
    tmp_path: Path, git_identity: None, name: str, message: str
) -> None:
    project = classifier(tmp_path)
    config_before = (project / CONFIG).read_text()
    with pytest.raises(UsageError, match=message):
        add_component(project, "callback", {"name": name})
    assert (project / CONFIG).read_text() == config_before
    assert (
        subprocess.run(
            ["git", "status", "--porcelain"], cwd=project, capture_output=True, text=True
        ).stdout
        == ""
    )


def test_callback_with_an_unusual_config_writes_its_files_and_says_what_to_add(
    tmp_path: Path, git_identity: None
) -> None:
    project = classifier(tmp_path)
    (project / CONFIG).write_text("trainer: {max_epochs: 3}\n")
    report = add_component(project, "callback", {})
    assert (project / CONFIG).read_text() == "trainer: {max_epochs: 3}\n"
    assert report.changed == [] and "src/digits_classifier/epoch_timer.py" in report.added
    assert report.notes == [
        "register it yourself: add `- class_path: "
        f"digits_classifier.epoch_timer.EpochTimer` under trainer.callbacks in {CONFIG}"
    ]


def test_export_script_imports_the_projects_own_classes(tmp_path: Path, git_identity: None) -> None:
    project = classifier(tmp_path)
    report = add_component(project, "export", {})
    assert report.added == ["scripts/export.py", "tests/test_export.py"]
    script = (project / "scripts/export.py").read_text()
    assert "from digits_classifier.model import DigitsClassifier" in script
    assert "from digits_classifier.data import DigitsDataModule" in script
    assert os.access(project / "scripts/export.py", os.X_OK)
    compile(script, "export.py", "exec")
    with pytest.raises(UsageError, match="already has scripts/export.py"):
        add_component(project, "export", {})


def test_export_needs_the_cli_entry_point_contract(tmp_path: Path, git_identity: None) -> None:
    project = classifier(tmp_path)
    (project / "src/digits_classifier/__main__.py").write_text(
        "from lightning.pytorch.cli import LightningCLI\n"
    )
    with pytest.raises(UsageError, match=r"__main__.py: defines no main\(args, run\)"):
        add_component(project, "export", {})
    assert not (project / "scripts").exists()


# --- components that re-answer a template question ------------------------------------------------


def test_slurm_adds_the_templates_script_and_keeps_user_edits(
    tmp_path: Path, git_identity: None
) -> None:
    project = classifier(tmp_path)
    with pytest.raises(UsageError, match="devices: auto; pass --data devices=N"):
        add_component(project, "slurm", {})
    model = project / "src/digits_classifier/model.py"
    model.write_text(model.read_text().replace("nn.ReLU(),", "nn.GELU(),"))  # the user's own edits
    config = project / CONFIG
    config.write_text(
        config.read_text().replace("  max_epochs: 20", "  max_epochs: 7  # enough for me")
    )
    commit_all(project, "my edits")

    report = add_component(project, "slurm", {"devices": "4", "num_nodes": "2", "strategy": "ddp"})

    sbatch = (project / "scripts/train.sbatch").read_text()
    assert "#SBATCH --nodes=2" in sbatch and "#SBATCH --ntasks-per-node=4" in sbatch
    assert "nn.GELU()," in model.read_text() and "nn.ReLU()," not in model.read_text()
    settings = yaml.safe_load(config.read_text())["trainer"]
    assert (
        settings["max_epochs"],
        settings["devices"],
        settings["num_nodes"],
        settings["strategy"],
    ) == (7, 4, 2, "ddp")
    assert "# enough for me" in config.read_text()
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert (answers["slurm"], answers["devices"], answers["_src_path"]) == (
        True,
        "4",
        "litgen:classifier",
    )
    assert "scripts/train.sbatch" in report.added and report.conflicts == []
    commit_all(project, "slurm")
    with pytest.raises(UsageError, match="already has a SLURM script"):
        add_component(project, "slurm", {"devices": "4"})


def test_logger_is_added_to_a_project_without_one(tmp_path: Path, git_identity: None) -> None:
    project = classifier(tmp_path, logger="none", callbacks="model_checkpoint")
    assert yaml.safe_load((project / CONFIG).read_text())["trainer"]["logger"] is False

    report = add_component(project, "logger", {"kind": "tensorboard"})

    logger = yaml.safe_load((project / CONFIG).read_text())["trainer"]["logger"]
    assert logger["class_path"] == "lightning.pytorch.loggers.TensorBoardLogger"
    assert '"tensorboard>=' in (project / "pyproject.toml").read_text()
    assert {CONFIG, "pyproject.toml", ".copier-answers.yml"} <= set(
        report.changed
    ) and report.notes == []
    commit_all(project, "logger")
    with pytest.raises(UsageError, match="already has a tensorboard logger"):
        add_component(project, "logger", {"kind": "tensorboard"})
    switched = add_component(project, "logger", {"kind": "csv"})
    assert switched.notes == [
        "replaced the tensorboard logger: a project of template 'classifier' has one logger"
    ]


def test_reanswering_needs_a_clean_git_repository(tmp_path: Path, git_identity: None) -> None:
    project = create_project(
        tmp_path / "proj",
        template="classifier",
        answers={"logger": "none", "callbacks": ""},
        use_defaults=True,
    ).dest
    with pytest.raises(UsageError, match="not in a git repository"):
        add_component(project, "logger", {})


@pytest.mark.parametrize(
    ("component", "options", "message"),
    [
        (
            "database",
            {},
            "unknown component 'database'; litgen can add: logger, callback, slurm, export",
        ),
        ("logger", {"colour": "red"}, "component logger has no option 'colour'; it takes: kind"),
        ("logger", {"kind": "wandb"}, "expected csv or tensorboard"),
        ("export", {"x": "1"}, "it takes: no options"),
    ],
)
def test_bad_requests_are_refused(
    tmp_path: Path, git_identity: None, component: str, options: dict[str, str], message: str
) -> None:
    project = classifier(tmp_path)
    with pytest.raises(UsageError, match=message):
        add_component(project, component, options)


def test_cli_add_refuses_a_folder_that_is_not_a_litgen_project(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "litgen", "add", "callback", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert (
        result.stderr
        == f"litgen: error: {tmp_path}: is not a litgen project (no .copier-answers.yml)\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_cli_add_prints_what_it_wrote(
    tmp_path: Path, git_identity: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from litgen.cli import main

    project = classifier(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["add", "callback", str(project), "--data", "name=LossSpy"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.splitlines() == [
        f"added callback to {project} (classifier "
        f"{yaml.safe_load((project / '.copier-answers.yml').read_text())['_commit']}):",
        f"  M {CONFIG}",
        "  A src/digits_classifier/loss_spy.py",
        "  A tests/test_loss_spy.py",
        "review the changes with `git diff`, then commit them",
    ]


# --- the generated project's own tests of what was added ------------------------------------------


@pytest.mark.slow
def test_added_components_pass_the_projects_own_tests(tmp_path: Path, git_identity: None) -> None:
    """Export (with its equivalence test), a callback (registered in the config) and a logger, then the
    project's tests.
    """
    project = classifier(tmp_path)
    add_component(project, "export", {})
    add_component(project, "callback", {})
    commit_all(project, "components")
    add_component(project, "logger", {"kind": "tensorboard"})
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_export.py",
            "tests/test_epoch_timer.py",
            "tests/test_training.py::test_fast_dev_run",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"\b10 passed\b", result.stdout), result.stdout[
        -1000:
    ]  # 3 export, 4 callback, 3 fast_dev_run


def test_a_config_that_is_not_utf8_is_a_one_line_error(tmp_path: Path, git_identity: None) -> None:
    project = classifier(tmp_path)
    (project / CONFIG).write_bytes((project / CONFIG).read_bytes() + b"# \xff\xfe\n")
    subprocess.run(["git", "commit", "-qam", "latin-1 comment"], cwd=project, check=True)
    with pytest.raises(UsageError, match="cannot read it as UTF-8 text") as caught:
        add_component(project, "callback", {"name": "EpochClock"})
    assert "\n" not in str(caught.value)
