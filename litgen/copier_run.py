"""copier's run_copy into a new folder, without work whose result is known beforehand.

copier renders a question's settings (type, when, default, help, validator, choices) by compiling
the string again every time it reads one: rendering a shipped task compiles 523 strings, of which
153 differ, and compiling is most of copier's time. During the run, copier's Jinja environment
keeps what it compiled from a string, and with a code folder what it compiled from any source is
kept on disk for the next run.

After writing each file, copier runs ``git config`` (and, when ``core.fileMode`` is false,
``git ls-files``) to carry its executable bit into the destination's git index, a no-op for a
file no index tracks. litgen renders into a new scratch folder with a random name, whose files no
index tracks, so when the destination did not exist before the run the git processes (16 for a
shipped task) are not started.

The call, and so the settings, answers and files, are those of ``copier.run_copy``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

# The extensions copier always loads. What they do when a string is compiled is a preprocess hook
# (the yield tag resets its state there), which a remembered string still runs; a template's own
# extensions may do more while parsing, so with those every string is compiled as copier does.
_KNOWN_EXTENSIONS = frozenset(
    {"copier._jinja_ext.YieldExtension", "jinja2_ansible_filters.AnsibleCoreFiltersExtension"}
)

# copier's per-file git index sync (Worker._sync_git_index_executable_bit(dst_relpath, src_mode))
_INDEX_SYNC = "_sync_git_index_executable_bit"


def run_copy(
    src_path: str, dst_path: Path, *, code_folder: Path | None = None, **options: Any
) -> None:
    """``copier.run_copy(src_path, dst_path, **options)``, compiling each distinct string once.

    DST_PATH should be a new scratch folder (see the module's doc); into an existing one copier
    syncs the git index as usual. CODE_FOLDER keeps compiled Jinja code for later runs.
    """
    import copier

    with (
        compiling_strings_once(code_folder),
        _untracked_files(fresh=not dst_path.exists()),
    ):
        copier.run_copy(src_path, dst_path, **options)


@contextlib.contextmanager
def _untracked_files(*, fresh: bool) -> Iterator[None]:
    """While inside, copier does not look for its files in a git index: none tracks them (FRESH)."""
    try:
        from copier._main import Worker
    except ImportError:
        yield
        return
    own = Worker.__dict__.get(_INDEX_SYNC)
    if not fresh or not callable(own):  # not a copier whose sync this is: it runs as it is
        yield
        return

    def no_index_to_sync(self: Any, dst_relpath: Path, src_mode: int) -> None:
        return None

    setattr(Worker, _INDEX_SYNC, no_index_to_sync)
    try:
        yield
    finally:
        setattr(Worker, _INDEX_SYNC, own)


def _only_known_extensions(env: Any) -> bool:
    extensions = getattr(env, "extensions", None)
    return (
        isinstance(extensions, Mapping)
        and {f"{type(ext).__module__}.{type(ext).__qualname__}" for ext in extensions.values()}
        <= _KNOWN_EXTENSIONS
    )


@contextlib.contextmanager
def compiling_strings_once(code_folder: Path | None = None) -> Iterator[None]:
    """While inside, copier's Jinja environments compile a template string once and reuse the code.

    Only sources given as strings (``from_string``) are remembered in memory; templates loaded
    from files have names, and Jinja caches those itself. With CODE_FOLDER, what any source
    compiles to is also kept on disk there for later runs (see ``litgen.jinja_code_cache``).
    Without copier's environment class (a copier that moved it), nothing changes.
    """
    try:
        from copier._jinja_ext import SandboxedEnvironment
    except ImportError:
        yield
        return
    from litgen.jinja_code_cache import CodeCache, disk_caches

    own = SandboxedEnvironment.__dict__.get("compile")
    compile_source: Callable[..., Any] = SandboxedEnvironment.compile
    # per environment: its strings' code, and its disk cache; None where it has other extensions
    memos: WeakKeyDictionary[Any, tuple[dict[str, Any], CodeCache | None] | None] = (
        WeakKeyDictionary()
    )

    with disk_caches(code_folder) as caches:

        def compile_once(
            self: Any,
            source: Any,
            name: str | None = None,
            filename: str | None = None,
            raw: bool = False,
            defer_init: bool = False,
        ) -> Any:
            if type(source) is not str or raw or defer_init:
                return compile_source(self, source, name, filename, raw, defer_init)
            if self not in memos:
                known = _only_known_extensions(self)
                disk = caches.for_environment(self) if known and caches else None
                memos[self] = ({}, disk) if known else None
            state = memos[self]
            if state is None:
                return compile_source(self, source, name, filename)
            memo, disk = state
            unnamed = name is None and filename is None
            code = memo.get(source) if unnamed else None
            if code is None and disk is not None:
                code = disk.get((source, name, filename))
            if code is None:
                code = compile_source(self, source, name, filename)
                if disk is not None:
                    disk.put((source, name, filename), code)
            else:
                self.preprocess(
                    source, name, filename
                )  # the extensions' hooks, which compiling would run
            if unnamed:
                memo[source] = code
            return code

        # the class copier instantiates; restored (or removed again) when the run ends
        setattr(SandboxedEnvironment, "compile", compile_once)  # noqa: B010
        try:
            yield
        finally:
            if own is None:
                delattr(SandboxedEnvironment, "compile")
            else:
                setattr(SandboxedEnvironment, "compile", own)  # noqa: B010
