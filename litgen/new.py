"""`litgen new` and `litgen templates`: find a copier template and render it safely into DEST."""

from __future__ import annotations

import errno
import filecmp
import os
import shutil
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Template lookup lives in litgen/catalog.py; its names are re-exported for `litgen templates` and
# callers.
from litgen.catalog import (
    DEFAULT_TEMPLATE,
    TemplateInfo,
    find_template,
    list_templates,
    templates_root,
)
from litgen.errors import UsageError
from litgen.scratch import make_scratch

__all__ = [
    "DEFAULT_TEMPLATE",
    "CreatedProject",
    "TemplateInfo",
    "create_project",
    "find_template",
    "list_templates",
    "parse_data_pairs",
    "templates_root",
]


@dataclass
class CreatedProject:
    """The result of rendering: where the project is and which user files were set aside."""

    dest: Path
    backups: list[Path] = field(default_factory=list)


def parse_data_pairs(pairs: Iterable[str]) -> dict[str, str]:
    """Turn repeated `--data KEY=VALUE` options into a dict, refusing malformed or repeated keys."""
    answers: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--data expects KEY=VALUE, got '{pair}'")
        if key in answers:
            raise UsageError(f"--data gives '{key}' twice")
        answers[key] = value
    return answers


def _check_answer_keys(info: TemplateInfo, answers: Mapping[str, str]) -> None:
    unknown = sorted(set(answers) - set(info.questions))
    if unknown:
        raise UsageError(
            f"template '{info.name}' has no question '{unknown[0]}'; it asks: {', '.join(info.questions)}"
        )


_BOOL_WORDS = {"true", "false", "yes", "no", "y", "n", "on", "off", "1", "0"}


def _check_answer_types(info: TemplateInfo, answers: Mapping[str, str]) -> None:
    """Name the question when an answer has the wrong type (copier's own message does not)."""
    for key, value in answers.items():
        expected = info.types.get(key, "str")
        text = value.strip()
        try:
            if expected == "int":
                int(text)
            elif expected == "float":
                float(text)
        except ValueError:
            kind = "an integer" if expected == "int" else "a number"
            raise UsageError(f"--data {key}: expected {kind}, got '{value}'") from None
        if expected == "bool" and text.lower() not in _BOOL_WORDS:
            raise UsageError(f"--data {key}: expected true or false, got '{value}'")


def _normalise_answers(info: TemplateInfo, answers: Mapping[str, str]) -> dict[str, str]:
    """Accept `a,b` as well as copier's YAML `[a, b]` for multiselect questions."""
    import yaml

    normalised = dict(answers)
    for key in info.multiselect & set(answers):
        value = answers[key].strip()
        if not value.startswith("["):
            items = [item.strip() for item in value.split(",") if item.strip()]
            normalised[key] = "[" + ", ".join(items) + "]"
            continue
        try:  # copier would parse it as YAML itself and fail without naming the question
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            parsed = None
        if not isinstance(parsed, list):
            raise UsageError(
                f"--data {key}: expected a comma-separated list such as a,b (or [a, b]), got '{value}'"
            )
    return normalised


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


def _check_destination(dest: Path, force: bool) -> None:
    try:
        if dest.exists() and not dest.is_dir():
            raise UsageError("exists and is not a folder", path=dest)
        if dest.is_dir() and not _is_empty_dir(dest) and not force:
            raise UsageError(
                "is not empty; choose a new folder or pass --force (your files are kept)", path=dest
            )
        blocking = next(
            (parent for parent in dest.parents if parent.exists() and not parent.is_dir()), None
        )
    except OSError as error:  # a name too long, a folder we may not read
        raise UsageError(f"cannot use it: {error.strerror or error}", path=dest) from None
    if blocking is not None:
        raise UsageError(f"cannot create it: {blocking} is a file, not a folder", path=dest)


def _render(
    info: TemplateInfo, target: Path, answers: Mapping[str, str], use_defaults: bool
) -> None:
    """Run copier into TARGET (a fresh scratch folder), turning its complaints into UsageError."""
    import jinja2
    import yaml
    from copier.errors import CopierAnswersInterrupt, CopierError

    from litgen.copier_run import run_copy
    from litgen.template_source import default_cache_dir

    if not use_defaults and not sys.stdin.isatty():
        raise UsageError(
            "no terminal to ask the template's questions on; pass --defaults (and --data KEY=VALUE)"
        )

    def run(into: Path, data: Mapping[str, Any], defaults: bool) -> None:
        run_copy(
            str(info.path),
            into,
            data={
                **data,
                **info.preset,
            },  # e.g. task: gan, for a template that is a task of a shared one
            defaults=defaults,
            unsafe=False,
            quiet=True,
            cleanup_on_error=False,  # the scratch folder is ours to remove
            code_folder=default_cache_dir() / "jinja",
        )

    try:
        if use_defaults:
            run(target, answers, defaults=True)
        else:
            # copier does not run the cross-question validators on single-choice questions it asks,
            # so the answers given at the prompts are rendered again the way --data answers are.
            asked = target.with_name(f"{target.name}-asked")
            run(asked, answers, defaults=False)
            run(target, _given_answers(info, asked), defaults=True)
    except CopierAnswersInterrupt:
        raise KeyboardInterrupt from None  # Ctrl-C at a question: the CLI says "interrupted", exit 130
    except (
        jinja2.TemplateError
    ) as error:  # a broken template: name the file and line when Jinja knows them
        where = getattr(error, "filename", None) or info.path
        raise UsageError(
            f"template '{info.name}' cannot be rendered: {error}",
            path=where,
            line=getattr(error, "lineno", None),
        ) from error
    except yaml.YAMLError as error:
        raise UsageError(
            f"template '{info.name}' holds invalid YAML: {' '.join(str(error).split())}",
            path=info.path,
        ) from error
    except OSError as error:  # a read-only or full disk while copier writes the scratch copy
        raise UsageError(
            f"cannot write the project: {error.strerror or error}", path=target
        ) from error
    except (CopierError, ValueError, TypeError) as error:
        # copier reports a refused or uncastable answer as ValueError/TypeError with the validator's
        # text
        reason = " ".join(str(error).split()) or type(error).__name__
        raise UsageError(f"template '{info.name}': {reason}") from error
    # A shipped template is recorded as `litgen:<name>` at a git tag of its content, so `litgen
    # update` can merge later versions.
    from litgen.template_source import pin_for_new_project, record_pinned_source

    record_pinned_source(target, pin_for_new_project(info))


def _given_answers(info: TemplateInfo, rendered: Path) -> dict[str, Any]:
    """The answers a rendered project records for the template's questions."""
    import yaml

    recorded = yaml.safe_load((rendered / ".copier-answers.yml").read_text(encoding="utf-8")) or {}
    return {key: value for key, value in recorded.items() if key in info.questions}


def _backup_name(path: Path) -> Path:
    candidate = path.with_name(path.name + ".bak")
    counter = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.bak{counter}")
        counter += 1
    return candidate


def _merge_into(rendered: Path, dest: Path) -> list[Path]:
    """Copy the rendered tree into a non-empty DEST; a user file that would change is renamed to *.bak first."""
    sources = sorted(rendered.rglob("*"))
    for source in sources:  # refuse before writing anything
        target = dest / source.relative_to(rendered)
        if not source.is_dir() and target.is_dir() and not target.is_symlink():
            raise UsageError(
                "is a folder where the template puts a file; move it away first (nothing was written)",
                path=target,
            )
    backups: list[Path] = []
    for source in sources:
        target = dest / source.relative_to(rendered)
        if source.is_dir():
            if target.exists() and not target.is_dir():
                backup = _backup_name(target)
                target.rename(backup)
                backups.append(backup)
            target.mkdir(exist_ok=True)
            continue
        if target.exists():
            if filecmp.cmp(source, target, shallow=False):
                continue
            backup = _backup_name(target)
            target.rename(backup)
            backups.append(backup)
        # copy to a temporary name first so that an interrupted copy never leaves half a file
        partial = target.with_name(f".{target.name}.litgen-partial")
        shutil.copy2(source, partial)
        os.replace(partial, target)
    return backups


def create_project(
    dest: Path,
    *,
    template: str = DEFAULT_TEMPLATE,
    answers: Mapping[str, str] | None = None,
    use_defaults: bool = False,
    force: bool = False,
) -> CreatedProject:
    """Render TEMPLATE into DEST. Nothing is written unless every answer is accepted."""
    info = find_template(template)
    answers = dict(answers or {})
    _check_answer_keys(info, answers)
    _check_answer_types(info, answers)
    answers = _normalise_answers(info, answers)
    dest = dest.expanduser().resolve()
    _check_destination(dest, force)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        # Render beside DEST (same filesystem, so the final move is a rename) and only then publish
        # it.
        scratch = make_scratch(f".{dest.name[:100]}.litgen-", dest.parent)
    except OSError as error:  # a parent that is a file, a read-only or full disk, a name too long
        raise UsageError(f"cannot create it: {error.strerror or error}", path=dest) from None
    try:
        rendered = scratch / "project"
        _render(info, rendered, answers, use_defaults)
        try:
            return _publish(rendered, dest, force)
        except OSError as error:  # a full or read-only disk while the project is moved or merged in
            raise UsageError(
                f"cannot write the project: {error.strerror or error}", path=dest
            ) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


_CLAIM = ".litgen-new.lock"  # held in DEST while a run fills it, so that a second run is refused
_CLAIMED = f"another `litgen new` is writing into it (if none is running, delete {_CLAIM}); nothing was written"


def _publish(rendered: Path, dest: Path, force: bool) -> CreatedProject:
    """Move the rendered project into DEST: a new folder whole, an empty one entry by entry, a full one merged."""
    if not dest.exists():
        try:
            rendered.rename(dest)  # atomic: the whole project appears at once
        except OSError as error:
            if error.errno in (errno.ENOTEMPTY, errno.EEXIST):
                raise UsageError(
                    "was created by someone else while litgen rendered; nothing was written",
                    path=dest,
                ) from None
            raise UsageError(f"cannot create it: {error.strerror or error}", path=dest) from None
        return CreatedProject(dest)
    if (dest / _CLAIM).exists():
        raise UsageError(_CLAIMED, path=dest)
    if force and not _is_empty_dir(dest):
        return CreatedProject(dest, _merge_into(rendered, dest))
    _fill_empty(rendered, dest)
    return CreatedProject(dest)


def _fill_empty(rendered: Path, dest: Path) -> None:
    """Move the project into the empty folder DEST, which is kept (its mode, owner, group, setgid bit).

    A claim file makes concurrent runs exclusive; if moving fails half-way, what was moved is removed.
    """
    claim = dest / _CLAIM
    try:
        os.close(os.open(claim, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        raise UsageError(_CLAIMED, path=dest) from None
    except OSError as error:
        raise UsageError(f"cannot write into it: {error.strerror or error}", path=dest) from None
    moved: list[Path] = []
    try:
        if any(entry.name != _CLAIM for entry in dest.iterdir()):
            raise UsageError(
                "is not empty any more (written to while litgen rendered); nothing was written",
                path=dest,
            )
        for entry in sorted(rendered.iterdir()):
            target = dest / entry.name
            entry.rename(target)
            moved.append(target)
    except BaseException:
        for target in moved:
            shutil.rmtree(target) if target.is_dir() and not target.is_symlink() else target.unlink(
                missing_ok=True
            )
        raise
    finally:
        claim.unlink(missing_ok=True)
