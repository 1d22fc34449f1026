"""`litgen update`: merge the installed template version into a generated project with copier, keeping the user's edits.

copier's update re-renders the version the project was made from, diffs that against the
project (the user's edits) and replays the diff on the new version, with conflict markers where
both changed the same lines. It needs the project in a clean git repository and the template in
a tagged git repository. litgen runs it on a scratch copy of the project's tracked files, where
the answers file can point at the local template cache, and then writes only the files that
changed back into the project, each one atomically. A failure before that point leaves the
project untouched; a failure while writing restores what was already written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from litgen.errors import LitgenError, UsageError
from litgen.git_store import git, git_succeeds
from litgen.merge_files import (
    apply_merge,
    differs,
    free_backup_name,
    is_project_file,
    snapshot_tracked,
)
from litgen.scratch import scratch as scratch_folder
from litgen.template_source import (
    ANSWERS_FILE,
    SOURCE_PREFIX,
    PinnedTemplate,
    TemplateSource,
    cache_errors,
    installed_source,
    is_release_tag,
    parse_version,
    set_answers_source,
)

CONFLICT_MARKER = "<<<<<<< before updating"


class MergeConflicts(LitgenError):
    """The update was written, but some files hold conflict markers for the user to resolve (exit 1)."""

    exit_code = 1


@dataclass(frozen=True)
class Project:
    """A generated project: its folder and what its answers file says about the template."""

    root: Path
    answers: Mapping[str, Any]
    template: str
    commit: str

    @property
    def answers_file(self) -> Path:
        return self.root / ANSWERS_FILE

    def user_answers(self) -> dict[str, Any]:
        """The answers to the template's questions (copier's own ``_`` keys left out)."""
        return {key: value for key, value in self.answers.items() if not str(key).startswith("_")}


def read_project(path: Path) -> Project:
    """The litgen project at PATH, or a UsageError saying why PATH is not one that litgen can update."""
    import yaml

    root = path.expanduser().resolve()
    if not root.is_dir():
        raise UsageError("is not a folder", path=path)
    answers_file = root / ANSWERS_FILE
    if not answers_file.is_file():
        raise UsageError(f"is not a litgen project (no {ANSWERS_FILE})", path=root)
    try:
        answers = yaml.safe_load(answers_file.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise UsageError(
            "is not valid YAML", path=answers_file, line=mark.line + 1 if mark else None
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read it as UTF-8 text: {error}", path=answers_file) from None
    if not isinstance(answers, dict):
        raise UsageError("is not a copier answers file (expected a mapping)", path=answers_file)
    source = str(answers.get("_src_path", ""))
    if not source.startswith(SOURCE_PREFIX):
        raise UsageError(
            f"records _src_path {source or 'nothing'!r}, not a litgen template (litgen:<name>); litgen updates and "
            "extends only projects made from its own templates",
            path=answers_file,
        )
    commit = answers.get("_commit")
    if not commit:
        raise UsageError(
            "records no template version (_commit), so there is nothing to merge from",
            path=answers_file,
        )
    return Project(root, answers, source.removeprefix(SOURCE_PREFIX), str(commit))


@dataclass(frozen=True)
class UpdateStatus:
    """What `litgen update --check` reports."""

    root: Path
    template: str
    current: str
    latest: str

    @property
    def available(self) -> bool:
        return self.current != self.latest

    def summary(self) -> str:
        if self.available:
            return (
                f"update available for {self.root}: {self.template} {self.current} -> {self.latest}"
            )
        return f"{self.root} is up to date ({self.template} {self.current})"


@dataclass
class MergeReport:
    """What a merge wrote into the project, relative paths; ``conflicts`` hold markers to resolve."""

    root: Path
    template: str
    from_tag: str
    to_tag: str
    changed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    # notes on user files that were deliberately left alone
    kept: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the user still has to do by hand

    @property
    def touched(self) -> bool:
        return bool(self.changed or self.added or self.removed)

    def file_lines(self) -> list[str]:
        lines = [f"  {'C' if name in self.conflicts else 'M'} {name}" for name in self.changed]
        lines += [f"  A {name}" for name in self.added]
        lines += [f"  D {name}" for name in self.removed]
        lines += [f"  kept {note}" for note in self.kept]
        lines += [f"  note: {note}" for note in self.notes]
        return lines

    def summary_lines(self, action: str) -> list[str]:
        """ACTION (e.g. 'updated') and the files, or a line saying nothing changed."""
        if not (self.touched or self.kept):
            return [f"{self.root} is up to date ({self.template} {self.to_tag})"]
        versions = (
            self.to_tag if self.from_tag == self.to_tag else f"{self.from_tag} -> {self.to_tag}"
        )
        lines = [f"{action} {self.root} ({self.template} {versions}):", *self.file_lines()]
        return [*lines, "review the changes with `git diff`, then commit them"]

    def raise_for_conflicts(self) -> None:
        if self.conflicts:
            listed = ", ".join(self.conflicts)
            raise MergeConflicts(
                f"{len(self.conflicts)} file(s) have merge conflicts: {listed}; resolve the <<<<<<< / >>>>>>> "
                "markers (your version is first), then commit",
                path=self.root,
            )


def check_update(path: Path, source: TemplateSource | None = None) -> UpdateStatus:
    """Whether the installed litgen has another version of the project's template; changes nothing."""
    project = read_project(path)
    source = source or installed_source()
    with cache_errors(source):
        target = source.pin(project.template)
    return UpdateStatus(project.root, project.template, project.commit, target.tag)


def update_project(path: Path, source: TemplateSource | None = None) -> MergeReport:
    """Merge the installed version of the project's template into it; the user's edits are kept."""
    project = read_project(path)
    source = source or installed_source()
    with cache_errors(source):
        target = source.pin(project.template)
    if project.commit == target.tag:
        return MergeReport(project.root, project.template, project.commit, target.tag)
    current, latest = parse_version(project.commit), parse_version(target.tag)
    if current.public != latest.public and current > latest:
        raise UsageError(
            f"was generated by the newer template {project.template} {project.commit}; this litgen ships "
            f"{target.tag}: upgrade litgen instead",
            path=project.root,
        )
    old = source.existing(project.template, project.commit)
    if old is None:
        known = ", ".join(source.known_tags(project.template)) or "none"
        hint = (
            ""
            if is_release_tag(project.commit)
            else " (development versions live only in the cache that made them)"
        )
        raise UsageError(
            f"was generated from {project.template} {project.commit}, which this litgen does not have "
            f"(it has: {known}){hint}",
            path=project.answers_file,
        )
    require_clean_git(project.root)
    return merge_template_change(project, old, target, _task_answer(project, source))


def _task_answer(project: Project, source: TemplateSource) -> dict[str, str]:
    """``task: <template>`` when the template is now a task of a shared one and the project predates that."""
    from litgen.catalog import TASK_QUESTION

    folder = source.folder_of(project.template)
    if TASK_QUESTION in project.answers or folder is None or folder.name == project.template:
        return {}
    return {TASK_QUESTION: project.template}


def require_clean_git(root: Path) -> None:
    """copier merges only into a clean git work tree, so the result can be reviewed with git diff and undone."""
    if not git_succeeds("rev-parse", "--is-inside-work-tree", cwd=root):
        raise UsageError(
            "is not in a git repository; litgen merges template changes into your files and needs git to let you "
            "review and undo them: run `git init && git add -A && git commit -m 'before litgen'` there first",
            path=root,
        )
    dirty = git("status", "--porcelain", "--untracked-files=all", "--", ".", cwd=root).splitlines()
    if dirty:
        raise UsageError(
            f"has uncommitted changes ({len(dirty)} file(s), e.g. {dirty[0][3:]}); commit or stash them first, "
            "so the merge can be reviewed with `git diff` and undone",
            path=root,
        )


def merge_template_change(
    project: Project,
    old: PinnedTemplate,
    new: PinnedTemplate,
    answers: Mapping[str, Any] | None = None,
) -> MergeReport:
    """Move PROJECT from template version OLD to NEW (which may be the same tag with changed ANSWERS)."""
    report = MergeReport(project.root, project.template, old.tag, new.tag)
    tracked = [name for name in git("ls-files", "-z", cwd=project.root).split("\0") if name]
    with scratch_folder("litgen-merge-") as scratch_dir:
        scratch = Path(scratch_dir) / "project"
        originals = snapshot_tracked(project.root, tracked, scratch)
        _run_copier_update(scratch, project, old, new, answers or {})
        unmerged = git("ls-files", "-u", "-z", cwd=scratch).split("\0")
        report.conflicts = sorted({entry.split("\t", 1)[1] for entry in unmerged if "\t" in entry})
        set_answers_source(scratch / ANSWERS_FILE, f"{SOURCE_PREFIX}{project.template}")
        produced = {
            p.relative_to(scratch).as_posix()
            for p in scratch.rglob("*")
            if is_project_file(p, scratch)
        }
        writes: list[str] = []
        backups: list[tuple[Path, Path]] = []
        for name in sorted(produced):
            target = project.root / name
            if name not in originals:
                # an ignored file of the user's where the template now puts one
                if target.exists() or target.is_symlink():
                    backups.append((target, free_backup_name(target)))
                    report.kept.append(
                        f"{name} as {backups[-1][1].name}: the template now has a file of that name"
                    )
                report.added.append(name)
                writes.append(name)
            elif differs(scratch / name, target):
                report.changed.append(name)
                writes.append(name)
        dropped = sorted(originals - produced)
        if dropped:
            edited = _edited_since_generation(project, old, dropped, Path(scratch_dir) / "pristine")
            report.kept += [
                f"{name}: the new template dropped it, but you changed it" for name in edited
            ]
            report.removed = [name for name in dropped if name not in edited]
        apply_merge(project.root, scratch, writes, report.removed, backups)
    return report


def _run_copier_update(
    scratch: Path,
    project: Project,
    old: PinnedTemplate,
    new: PinnedTemplate,
    answers: Mapping[str, Any],
) -> None:
    import copier
    from copier.errors import CopierError
    from plumbum import ProcessExecutionError

    # copier reads the source from the answers file: point it at this machine's cache, in the
    # scratch copy only.
    set_answers_source(scratch / ANSWERS_FILE, str(old.repo), old.tag)
    git("commit", "--quiet", "-am", "template source for this machine", cwd=scratch)
    try:
        copier.run_update(
            str(scratch),
            data=dict(answers),
            vcs_ref=new.tag,
            defaults=True,
            overwrite=True,
            conflict="inline",
            quiet=True,
            unsafe=False,
        )
    except ProcessExecutionError as error:
        lines = (error.stderr or str(error)).strip().splitlines()
        raise LitgenError(
            f"copier's merge failed: {lines[-1] if lines else error}", path=project.root
        ) from error
    except (CopierError, ValueError, TypeError) as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        raise UsageError(f"template '{project.template}': {reason}", path=project.root) from error


def _edited_since_generation(
    project: Project, old: PinnedTemplate, names: list[str], pristine: Path
) -> list[str]:
    """Those of NAMES whose content differs from what template version OLD rendered (the user changed them)."""
    import copier

    copier.run_copy(
        str(old.repo),
        pristine,
        data=project.user_answers(),
        vcs_ref=old.tag,
        defaults=True,
        quiet=True,
    )
    return [
        name
        for name in names
        if not (pristine / name).is_file() or differs(pristine / name, project.root / name)
    ]
