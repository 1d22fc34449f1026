"""Tests for litgen.new: answers, destinations, --force backups; rendered with a tiny real copier template."""

from __future__ import annotations

import stat
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
    assert (
        created.dest / "settings.txt"
    ).read_text() == "name = alpha\nepochs = 7\nextras = csv,checkpoint\n"


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
    assert list(tmp_path.iterdir()) == [], (
        "a refused answer must leave no file or scratch folder behind"
    )


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

    created = create_project(
        dest, template=MINI, answers={"epochs": "9"}, use_defaults=True, force=True
    )

    assert (dest / "notes.txt").read_text() == "mine"
    # the answers file changed too (epochs=9), so the previous one is kept as well
    assert sorted(created.backups) == [dest / ".copier-answers.yml.bak", dest / "settings.txt.bak"]
    assert (dest / "settings.txt.bak").read_text() == "edited by hand"
    assert "epochs = 9" in (dest / "settings.txt").read_text()
    assert (dest / "src" / "main.py").stat().st_mtime_ns == untouched, (
        "identical files are not rewritten"
    )
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


def test_an_empty_destination_is_filled_not_replaced(tmp_path: Path) -> None:
    dest = tmp_path / "proj"
    dest.mkdir()
    dest.chmod(0o2750)  # setgid and a mode of the user's choosing
    inode = dest.stat().st_ino
    create_project(dest, template=MINI, use_defaults=True)
    assert dest.stat().st_ino == inode and stat.S_IMODE(dest.stat().st_mode) == 0o2750
    assert sorted(p.name for p in dest.iterdir()) == [".copier-answers.yml", "settings.txt", "src"]


def test_the_current_folder_can_be_the_destination(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    create_project(Path("."), template=MINI, use_defaults=True)
    # the shell's folder still exists
    assert Path.cwd() == tmp_path and (tmp_path / "settings.txt").is_file()


def test_a_second_run_into_the_same_empty_folder_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "proj"
    dest.mkdir()
    import litgen.new as new_module

    real_render = new_module._render

    def render_then_let_another_run_finish(*args: object, **kwargs: object) -> None:
        real_render(*args, **kwargs)  # type: ignore[arg-type]
        monkeypatch.setattr(new_module, "_render", real_render)
        create_project(dest, template=MINI, answers={"project_name": "first"}, use_defaults=True)

    monkeypatch.setattr(new_module, "_render", render_then_let_another_run_finish)
    with pytest.raises(UsageError, match="not empty any more"):
        create_project(dest, template=MINI, answers={"project_name": "second"}, use_defaults=True)
    assert (dest / "settings.txt").read_text().startswith("name = first")
    assert not (dest / ".litgen-new.lock").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "proj"
    ]  # no scratch folder left beside it


def test_a_run_holding_the_claim_refuses_another(tmp_path: Path) -> None:
    dest = tmp_path / "proj"
    dest.mkdir()
    (dest / ".litgen-new.lock").write_text("")
    with pytest.raises(UsageError, match="another `litgen new` is writing into it"):
        create_project(dest, template=MINI, use_defaults=True, force=True)


def test_force_refuses_a_folder_where_a_file_goes_before_writing_anything(tmp_path: Path) -> None:
    dest = tmp_path / "proj"
    create_project(dest, template=MINI, use_defaults=True)
    (dest / "settings.txt").unlink()
    (dest / "settings.txt").mkdir()
    (dest / ".copier-answers.yml").write_text("edited\n")
    before = {p: p.read_bytes() for p in dest.rglob("*") if p.is_file()}
    with pytest.raises(UsageError, match="is a folder where the template puts a file"):
        create_project(dest, template=MINI, answers={"epochs": "9"}, use_defaults=True, force=True)
    assert {p: p.read_bytes() for p in dest.rglob("*") if p.is_file()} == before
    assert not list(dest.rglob("*.bak"))


@pytest.mark.parametrize(
    ("make_dest", "message"),
    [
        (
            lambda tmp: (tmp / "file").write_text("x") and tmp / "file" / "proj",
            "file is a file, not a folder",
        ),
        (lambda tmp: tmp / ("n" * 300), "cannot use it: File name too long"),
    ],
)
def test_destinations_that_cannot_be_created_are_one_line_errors(
    tmp_path: Path, make_dest: object, message: str
) -> None:
    dest = make_dest(tmp_path)  # type: ignore[operator]
    with pytest.raises(UsageError, match=message):
        create_project(dest, template=MINI, use_defaults=True)


def _template(root: Path, copier_yml: str, files: dict[str, str]) -> Path:
    (root / "project").mkdir(parents=True)
    (root / "copier.yml").write_text(copier_yml)
    for name, text in files.items():
        (root / "project" / name).write_text(text)
    return root


@pytest.mark.parametrize(
    ("copier_yml", "files", "message"),
    [
        ("q: [unclosed\n", {}, r"copier.yml:\d+: is not valid YAML"),
        (
            "q: a\n_subdirectory: project\n",
            {"f.txt.jinja": "{% if %}\n"},
            r"f.txt.jinja:1: template 'bad' cannot be rendered",
        ),
        (
            "q: a\n_subdirectory: project\n",
            {"f.txt.jinja": "{{ q.nope.deeper }}\n"},
            r"template 'bad' cannot be rendered",
        ),
    ],
)
def test_a_broken_template_is_a_one_line_error_and_writes_nothing(
    tmp_path: Path, copier_yml: str, files: dict[str, str], message: str
) -> None:
    template = _template(tmp_path / "bad", copier_yml, files)
    with pytest.raises(UsageError, match=message) as caught:
        create_project(tmp_path / "proj", template=str(template), use_defaults=True)
    assert "\n" not in str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad"]


def test_ctrl_c_at_a_question_exits_130_with_one_line_and_writes_nothing(tmp_path: Path) -> None:
    import os
    import pty
    import select
    import sys
    import time

    dest = tmp_path / "proj"
    pid, fd = pty.fork()
    if pid == 0:  # the child: litgen asking its first question on a terminal
        os.execv(sys.executable, [sys.executable, "-m", "litgen", "new", str(dest)])
    output, sent, deadline = b"", False, time.monotonic() + 60
    while time.monotonic() < deadline:
        if select.select([fd], [], [], 0.2)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        if not sent and b"Project name" in output:
            time.sleep(0.3)
            os.write(fd, b"\x03")
            sent = True
    _, status = os.waitpid(pid, 0)
    assert sent and os.waitstatus_to_exitcode(status) == 130
    text = output.decode(errors="replace")
    assert "litgen: interrupted" in text and "Question(" not in text and "Traceback" not in text
    assert list(tmp_path.iterdir()) == []


def test_answers_given_at_the_prompts_are_validated_like_data_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import copier

    real_run_copy = copier.run_copy
    prompted: list[bool] = []

    def prompts_that_accept_anything(src: str, dst: Path, **kwargs: object) -> object:
        if kwargs.get("defaults"):
            return real_run_copy(src, dst, **kwargs)
        # what copier's prompts let through: single-choice answers skip cross-checks
        prompted.append(True)
        result = real_run_copy(src, dst, **{**kwargs, "defaults": True})
        answers = Path(dst) / ".copier-answers.yml"
        answers.write_text(
            answers.read_text()
            .replace("precision: 32-true", "precision: 16-mixed")
            .replace("accelerator: auto", "accelerator: cpu")
        )
        return result

    monkeypatch.setattr(copier, "run_copy", prompts_that_accept_anything)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    with pytest.raises(UsageError, match="16-mixed"):
        create_project(tmp_path / "proj", template="classifier")
    assert prompted and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value", ["[csv", "[a, [b]", "[{x: 1}"])
def test_a_yaml_looking_list_answer_that_is_not_a_list_names_its_question(
    tmp_path: Path, value: str
) -> None:
    with pytest.raises(UsageError, match=r"--data extras: expected a comma-separated list"):
        create_project(
            tmp_path / "proj", template=MINI, answers={"extras": value}, use_defaults=True
        )
    assert list(tmp_path.iterdir()) == []


def test_a_disk_that_refuses_the_move_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import litgen.new as new_module

    def full_disk(rendered: Path, dest: Path, force: bool) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(new_module, "_publish", full_disk)
    with pytest.raises(UsageError, match="cannot write the project: No space left on device"):
        create_project(tmp_path / "proj", template=MINI, use_defaults=True)
    assert list(tmp_path.iterdir()) == []  # the scratch folder is gone too
