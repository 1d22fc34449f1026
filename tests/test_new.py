"""Tests for litgen.new: answers, destinations, --force backups; rendered with a tiny real copier template."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from litgen.errors import UsageError
from litgen.new import create_project, find_template, list_templates, parse_data_pairs

MINI = str(Path(__file__).parent / "fixtures" / "templates" / "mini")


def test_parse_data_pairs_splits_on_first_equals() -> None:
    assert parse_data_pairs(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}


@pytest.mark.parametrize("bad", ["novalue", "=3", " =3"])
def test_parse_data_pairs_refuses_malformed(bad: str) -> None:
    with pytest.raises(UsageError, match="KEY=VALUE"):
        parse_data_pairs([bad])


def test_parse_data_pairs_refuses_repeated_key() -> None:
    with pytest.raises(UsageError, match="'a' twice"):
        parse_data_pairs(["a=1", "a=2"])


def test_unknown_template_lists_available() -> None:
    with pytest.raises(UsageError, match="unknown template 'nope'.*classifier"):
        find_template("nope")


def test_shipped_templates_have_descriptions_and_questions() -> None:
    infos = list_templates()
    assert infos[0].name == "classifier"
    for info in infos:
        assert info.description, f"{info.name} has no DESCRIPTION"
        assert info.questions


def test_renders_with_defaults_and_records_answers(tmp_path: Path) -> None:
    created = create_project(tmp_path / "proj", template=MINI, use_defaults=True)
    assert created.backups == []
    assert (created.dest / "settings.txt").read_text() == "name = demo\nepochs = 3\nextras = csv\n"
    answers = yaml.safe_load((created.dest / ".copier-answers.yml").read_text())
    assert answers["project_name"] == "demo" and answers["epochs"] == 3


def test_data_answers_are_cast_and_multiselect_accepts_commas(tmp_path: Path) -> None:
    created = create_project(
        tmp_path / "proj",
        template=MINI,
        answers={"project_name": "alpha", "epochs": "7", "extras": "csv, checkpoint"},
        use_defaults=True,
    )
    assert (created.dest / "settings.txt").read_text() == "name = alpha\nepochs = 7\nextras = csv,checkpoint\n"


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"project_name": "not valid"}, "project_name must be a Python identifier"),
        ({"epochs": "0"}, "epochs must be at least 1"),
        ({"epochs": "many"}, "--data epochs: expected an integer, got 'many'"),
        ({"extras": "csv, wandb"}, "wandb"),
        ({"colour": "red"}, "has no question 'colour'"),
    ],
)
def test_bad_answers_write_nothing(tmp_path: Path, answers: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        create_project(tmp_path / "proj", template=MINI, answers=answers, use_defaults=True)
    assert list(tmp_path.iterdir()) == [], "a refused answer must leave no file or scratch folder behind"


def test_non_empty_destination_is_refused_without_force(tmp_path: Path) -> None:
    dest = tmp_path / "proj"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="not empty"):
        create_project(dest, template=MINI, use_defaults=True)
    assert [p.name for p in dest.iterdir()] == ["notes.txt"]


def test_empty_destination_folder_is_used(tmp_path: Path) -> None:
    dest = tmp_path / "proj"
    dest.mkdir()
    create_project(dest, template=MINI, use_defaults=True)
    assert (dest / "settings.txt").exists()


def test_destination_that_is_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "proj"
    target.write_text("a file")
    with pytest.raises(UsageError, match="not a folder"):
        create_project(target, template=MINI, use_defaults=True)
    assert target.read_text() == "a file"


def test_force_keeps_every_user_file(tmp_path: Path) -> None:
    dest = tmp_path / "proj"
    create_project(dest, template=MINI, use_defaults=True)
    (dest / "notes.txt").write_text("mine")  # a file the template does not know
    (dest / "settings.txt").write_text("edited by hand")  # a file the template would change
    untouched = (dest / "src" / "main.py").stat().st_mtime_ns

    created = create_project(dest, template=MINI, answers={"epochs": "9"}, use_defaults=True, force=True)

    assert (dest / "notes.txt").read_text() == "mine"
    # the answers file changed too (epochs=9), so the previous one is kept as well
    assert sorted(created.backups) == [dest / ".copier-answers.yml.bak", dest / "settings.txt.bak"]
    assert (dest / "settings.txt.bak").read_text() == "edited by hand"
    assert "epochs = 9" in (dest / "settings.txt").read_text()
    assert (dest / "src" / "main.py").stat().st_mtime_ns == untouched, "identical files are not rewritten"
    assert not list(dest.rglob("*.litgen-partial"))


def test_force_never_overwrites_an_older_backup(tmp_path: Path) -> None:
    dest = tmp_path / "proj"
    create_project(dest, template=MINI, use_defaults=True)
    for round_number in range(2):
        (dest / "settings.txt").write_text(f"edit {round_number}")
        create_project(dest, template=MINI, use_defaults=True, force=True)
    assert (dest / "settings.txt.bak").read_text() == "edit 0"
    assert (dest / "settings.txt.bak1").read_text() == "edit 1"


def test_interactive_mode_needs_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(UsageError, match="pass --defaults"):
        create_project(tmp_path / "proj", template=MINI)
    assert not (tmp_path / "proj").exists()
