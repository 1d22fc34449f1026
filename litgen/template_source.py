"""Versioned template sources: the shipped release bundle, the per-template git cache, and `litgen:` references.

copier can only update a project from a git repository with one tag per template version: it
re-renders the version the project was made from, then merges the new version into the user's
files. litgen ships that history as a git bundle (``template_history.bundle``: one commit of the
whole ``templates/`` folder per litgen release, tagged ``v<version>``). On first use each
template gets a bare repository in the cache, with one commit per release holding just that
template; those commits are built deterministically, so a deleted cache is rebuilt identically.
A templates folder that matches no release (a development checkout) is committed on top as
``v<version>+dev.<n>``. Projects record ``_src_path: litgen:<template>`` and ``_commit: <tag>``;
the reference is resolved to the cache on the machine that runs ``litgen update``.

``python -m litgen.template_release add-release`` appends the current templates to the bundle
at release time (see litgen/template_release.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import litgen
from litgen import catalog
from litgen.errors import UsageError
from litgen.git_store import (
    GitFailed,
    commit_tree,
    git,
    git_available,
    git_succeeds,
    list_tags,
    run_git,
)
from litgen.template_tree import tree_id, write_tree

if TYPE_CHECKING:
    from packaging.version import Version

BUNDLE_PATH = Path(__file__).resolve().with_name("template_history.bundle")
SOURCE_PREFIX = "litgen:"
ANSWERS_FILE = ".copier-answers.yml"
CACHE_ENV = "LITGEN_CACHE_DIR"
DEV_MARK = "+dev."


def parse_version(tag: str) -> Version:
    """The PEP 440 version of a tag such as ``v0.2.0`` or ``v0.2.0+dev.3``; UsageError if it is none."""
    from packaging.version import InvalidVersion, Version

    try:
        return Version(tag.removeprefix("v"))
    except InvalidVersion:
        raise UsageError(
            f"'{tag}' is not a litgen template version (expected v<version>)"
        ) from None


def is_release_tag(tag: str) -> bool:
    return DEV_MARK not in tag


def sorted_by_version(tags: Sequence[str]) -> list[str]:
    return sorted(tags, key=parse_version)


@contextlib.contextmanager
def _locked(lock_file: Path) -> Iterator[None]:
    """Serialise cache writes between litgen processes (POSIX advisory lock; a no-op elsewhere)."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as handle:
        try:
            import fcntl
        # Windows: concurrent first runs are rare, and every write below is idempotent
        except ImportError:
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass(frozen=True)
class PinnedTemplate:
    """One template version: the cache repository copier renders from, and the tag of that version."""

    name: str
    repo: Path
    tag: str

    @property
    def reference(self) -> str:
        """What projects record as ``_src_path``: stable across machines and cache locations."""
        return f"{SOURCE_PREFIX}{self.name}"


@dataclass(frozen=True)
class TemplateSource:
    """The installed templates, the release bundle shipped with them, and the cache built from both."""

    templates_root: Path
    bundle: Path
    cache_dir: Path
    version: str

    def repo_for(self, name: str) -> Path:
        return self.cache_dir / "templates" / f"{name}.git"

    def folder_of(self, name: str) -> Path | None:
        """The installed folder of template NAME: its own, or the shared one whose task it is."""
        if (self.templates_root / name / "copier.yml").is_file():
            return self.templates_root / name
        if self.templates_root == catalog.templates_root().resolve():
            return catalog.shipped_folder(name)
        return None

    def pin(self, name: str) -> PinnedTemplate:
        """The tag holding the installed template NAME exactly, creating a development tag if no release matches."""
        folder = self.folder_of(name)
        if folder is None:
            raise UsageError(f"litgen {self.version} ships no template '{name}'")
        repo = self.repo_for(name)
        with _locked(self.cache_dir / "templates" / ".lock"):
            self._sync_releases(name, repo)
            tags = list_tags(repo)
            # Usually a tag already holds the folder: its id, computed here, finds it without
            # storing the folder again (three git processes).
            known = self._tag_of_tree(tree_id(folder), tags)
            if known is not None:
                return PinnedTemplate(name, repo, known)
            tree = write_tree(repo, folder)
            known = self._tag_of_tree(tree, tags)
            if known is not None:
                return PinnedTemplate(name, repo, known)
            return PinnedTemplate(name, repo, self._tag_development_tree(repo, tree, tags))

    def _tag_of_tree(
        self, tree: str | None, tags: Mapping[str, tuple[str, str, int]]
    ) -> str | None:
        """The tag to pin for content TREE, or None if no tag holds it."""
        same = [
            tag for tag, (_, tag_tree, _) in tags.items() if tree is not None and tag_tree == tree
        ]
        # A cache shared with a newer litgen may hold later tags of the same content: stay at
        # our version.
        ours = [
            tag for tag in same if parse_version(tag).public <= parse_version(self.version).public
        ] or same
        # prefer a release over a development tag of the same content
        return max(ours, key=lambda t: (is_release_tag(t), parse_version(t))) if ours else None

    def existing(self, name: str, tag: str) -> PinnedTemplate | None:
        """Template NAME at TAG if the cache (after importing the bundle) has it, else None."""
        repo = self.repo_for(name)
        if self.folder_of(name) is None and not repo.is_dir():
            return None
        with _locked(self.cache_dir / "templates" / ".lock"):
            self._sync_releases(name, repo)
        return PinnedTemplate(name, repo, tag) if tag in list_tags(repo) else None

    def known_tags(self, name: str) -> list[str]:
        repo = self.repo_for(name)
        return sorted_by_version(list(list_tags(repo))) if repo.is_dir() else []

    def _ensure_repo(self, repo: Path) -> None:
        if (repo / "HEAD").is_file():
            return
        repo.parent.mkdir(parents=True, exist_ok=True)
        # Build beside the final place and rename, so a crash never leaves a half-made repository
        # there.
        staging = Path(tempfile.mkdtemp(prefix=f".{repo.name}.", dir=repo.parent))
        git("init", "--quiet", "--bare", str(staging))
        staging.rename(repo)

    def _sync_releases(self, name: str, repo: Path) -> None:
        """Give REPO one tag per release of the bundle that contains template NAME (once per bundle)."""
        self._ensure_repo(repo)
        digest = (
            hashlib.sha256(self.bundle.read_bytes()).hexdigest()
            if self.bundle.is_file()
            else "no-bundle"
        )
        if _recorded_bundle(repo) == digest or (
            run_git(["config", "--get", "litgen.bundle"], repo, None, None, None).stdout.strip()
            == digest
        ):
            return
        if self.bundle.is_file():
            refspec = "+refs/tags/*:refs/litgen-bundle/*"
            git("fetch", "--quiet", "--no-tags", "--force", str(self.bundle), refspec, git_dir=repo)
            releases = list_tags(repo, "refs/litgen-bundle/")
            parent: str | None = None
            for tag in sorted_by_version(list(releases)):
                commit, _, when = releases[tag]
                folder = self._release_folder(repo, commit, name)
                if folder is None:
                    continue  # this release did not have the template yet
                tree = git("rev-parse", f"{commit}:{folder}", git_dir=repo).strip()
                parent = commit_tree(
                    repo, tree, parent, f"litgen {tag.removeprefix('v')}: template {name}", when
                )
                # releases are authoritative
                git("update-ref", f"refs/tags/{tag}", parent, git_dir=repo)
        git("config", "litgen.bundle", digest, git_dir=repo)

    @staticmethod
    def _release_folder(repo: Path, commit: str, name: str) -> str | None:
        """The folder of release COMMIT that holds template NAME: its own, else a shared one with task NAME."""
        if git_succeeds("cat-file", "-e", f"{commit}:{name}/copier.yml", git_dir=repo):
            return name
        from litgen.catalog import read_copier_yml, tasks_of

        listing = git("ls-tree", "--name-only", "-d", commit, git_dir=repo).split()
        for folder in (entry for entry in listing if not entry.startswith((".", "_"))):
            if not git_succeeds("cat-file", "-e", f"{commit}:{folder}/copier.yml", git_dir=repo):
                continue
            with tempfile.TemporaryDirectory(prefix="litgen-release-") as scratch:
                Path(scratch, "copier.yml").write_text(
                    git("show", f"{commit}:{folder}/copier.yml", git_dir=repo)
                )
                if name in tasks_of(read_copier_yml(Path(scratch))):
                    return folder
        return None

    def _tag_development_tree(
        self, repo: Path, tree: str, tags: Mapping[str, tuple[str, str, int]]
    ) -> str:
        """Commit TREE as ``v<version>+dev.<n>`` on top of the newest release not above the installed version."""
        installed = parse_version(self.version)
        releases = [tag for tag in tags if is_release_tag(tag) and parse_version(tag) <= installed]
        parent = tags[max(releases, key=parse_version)][0] if releases else None
        commit = commit_tree(
            repo, tree, parent, f"litgen {self.version} (unreleased templates): {tree[:12]}"
        )
        prefix = f"v{self.version}{DEV_MARK}"
        numbers = [
            int(tag[len(prefix) :])
            for tag in tags
            if tag.startswith(prefix) and tag[len(prefix) :].isdigit()
        ]
        number = 1 + max(numbers, default=0)
        for attempt in range(number, number + 20):
            # The empty old value makes update-ref refuse to move a tag another process created
            # meanwhile.
            if git_succeeds("update-ref", f"refs/tags/{prefix}{attempt}", commit, "", git_dir=repo):
                return f"{prefix}{attempt}"
        raise GitFailed(f"could not create a development tag {prefix}<n> in {repo}")


def _recorded_bundle(repo: Path) -> str | None:
    """``litgen.bundle`` as ``git config litgen.bundle`` wrote it in REPO's config file, read without git.

    None when the file does not have it in that form (git is then asked).
    """
    try:
        text = (repo / "config").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    section, value = "", None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[litgen]" and line.startswith("bundle = "):
            value = line.removeprefix("bundle = ")
    return value


def default_cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser().resolve() / "litgen"


@contextlib.contextmanager
def cache_errors(source: TemplateSource) -> Iterator[None]:
    """Turn a cache folder that cannot be used (a file, missing, read-only, full) into one clear UsageError."""
    try:
        yield
    except OSError as error:
        raise UsageError(
            f"cannot use the template cache {source.cache_dir}: {error.strerror or error}; "
            f"set {CACHE_ENV} to a writable folder"
        ) from None


def installed_source() -> TemplateSource:
    """The source for the installed litgen: its templates folder, its bundle and the user's cache."""
    return TemplateSource(
        catalog.templates_root().resolve(), BUNDLE_PATH, default_cache_dir(), litgen.__version__
    )


def shipped_template_name(info: catalog.TemplateInfo) -> str | None:
    """The name of a template that litgen ships, or None for a user's own template folder."""
    path = info.path.resolve()
    if path.parent != catalog.templates_root().resolve():
        return None
    folder = catalog.shipped_folder(info.name)
    return info.name if folder is not None and folder.resolve() == path else None


def set_answers_source(answers_file: Path, src_path: str, commit: str | None = None) -> None:
    """Rewrite ``_src_path`` (and ``_commit``) in a copier answers file in place, leaving every other line as it is."""
    import yaml

    text = answers_file.read_text(encoding="utf-8")
    values = (
        {"_src_path": src_path} if commit is None else {"_commit": commit, "_src_path": src_path}
    )
    rendered = {
        key: yaml.safe_dump({key: value}, width=10**9, allow_unicode=True)
        for key, value in values.items()
    }
    lines: list[str] = []
    replacing = False
    for line in text.splitlines(keepends=True):
        if replacing and line[:1] in (" ", "\t"):  # continuation of a long value that yaml wrapped
            continue
        key = line.split(":", 1)[0]
        replacing = key in rendered
        if replacing:
            # a file without _commit: copier sorts it first
            if key == "_src_path" and "_commit" in rendered:
                lines.append(rendered.pop("_commit"))
            line = rendered.pop(key)
        lines.append(line)
    header = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
    lines[header:header] = [
        rendered[key] for key in sorted(rendered)
    ]  # keys the file did not have yet
    new_text = "".join(lines)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's, when PyYAML has it
    before = yaml.load(text, Loader=loader) or {}
    after = yaml.load(new_text, Loader=loader) or {}
    if after != {**before, **values}:
        raise UsageError(
            "could not record the template source; the file is not plain copier output",
            path=answers_file,
        )
    partial = answers_file.with_name(f".{answers_file.name}.litgen-partial")
    partial.write_text(new_text, encoding="utf-8")
    os.replace(partial, answers_file)


def pin_for_new_project(info: catalog.TemplateInfo) -> PinnedTemplate | None:
    """The version ``litgen new`` records for a shipped template; None for a user's template folder or without git."""
    name = shipped_template_name(info)
    if name is None:
        return None
    problem = None if git_available() else "git is not installed"
    if problem is None:
        try:
            return installed_source().pin(name)
        except (
            OSError,
            GitFailed,
        ) as error:  # e.g. a read-only cache folder: the project itself is still fine
            problem = str(error)
    print(
        f"litgen: note: the project records no template version ({problem}), so `litgen update` cannot "
        "update it",
        file=sys.stderr,
    )
    return None


def record_pinned_source(project: Path, pinned: PinnedTemplate | None) -> None:
    """Point a freshly rendered project's answers file at ``litgen:<template>`` and the pinned tag."""
    answers_file = project / ANSWERS_FILE
    if pinned is not None and answers_file.is_file():
        set_answers_source(answers_file, pinned.reference, pinned.tag)
