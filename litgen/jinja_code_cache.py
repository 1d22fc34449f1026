"""Jinja code compiled in copier's environment, kept on disk so that a later run can skip compiling it.

Jinja's own bytecode cache does this for templates loaded from files; copier also compiles every
question's settings from strings, which nothing caches between runs. Code is stored per
environment fingerprint: the Python and Jinja versions and every environment setting the compiler
reads (delimiters, whitespace handling, extensions, filters and tests with how they are called,
finalize, autoescape, optimisation). An environment whose compilation cannot be pinned down that
way (an autoescape function) gets no disk cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import marshal
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import CodeType
from typing import Any

from litgen.source_files import write_atomically

# (source, template name, file name): a string is compiled with no names
CodeKey = tuple[str, str | None, str | None]
# Entries kept beyond what one run uses: a cache that only grows would keep every template version.
MAX_ENTRIES = 2048
# A temporary file this old is left over from a killed run: nothing will rename it any more.
STALE_TEMP_SECONDS = 3600

_LEXER_SETTINGS = (
    "block_start_string",
    "block_end_string",
    "variable_start_string",
    "variable_end_string",
    "comment_start_string",
    "comment_end_string",
    "line_statement_prefix",
    "line_comment_prefix",
    "trim_blocks",
    "lstrip_blocks",
    "newline_sequence",
    "keep_trailing_newline",
    "optimized",
    "is_async",
    "sandboxed",
)


def _qualified(value: Any) -> str:
    kind = value if isinstance(value, type) else type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


def _callables(table: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Names, with how each is called: the compiler passes context or environment by this mark."""
    return sorted(
        (name, repr(getattr(func, "jinja_pass_arg", None))) for name, func in table.items()
    )


def fingerprint(env: Any) -> str | None:
    """A digest of what Jinja's compiler reads from ENV; None when that cannot be pinned down."""
    import jinja2

    if callable(env.autoescape):
        return None
    finalize = env.finalize
    parts = [
        sys.implementation.cache_tag,
        importlib.util.MAGIC_NUMBER.hex(),
        jinja2.__version__,
        _qualified(env),
        _qualified(env.code_generator_class),
        repr([(name, getattr(env, name)) for name in _LEXER_SETTINGS]),
        repr(env.autoescape),
        repr(None if finalize is None else getattr(finalize, "jinja_pass_arg", "plain")),
        repr(sorted(_qualified(extension) for extension in env.extensions.values())),
        repr(_callables(env.filters)),
        repr(_callables(env.tests)),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


class CodeCache:
    """The code compiled in environments of one fingerprint: read once, written back when it grew."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stored = self._read()
        self.used: dict[CodeKey, CodeType] = {}

    def _read(self) -> dict[CodeKey, CodeType]:
        try:
            loaded = marshal.loads(self.path.read_bytes())
        except (OSError, EOFError, ValueError, TypeError):  # none yet, unreadable, or not ours
            return {}
        if not isinstance(loaded, dict):
            return {}
        return {
            key: code
            for key, code in loaded.items()
            if isinstance(key, tuple) and len(key) == 3 and isinstance(code, CodeType)
        }

    def get(self, key: CodeKey) -> CodeType | None:
        code = self.stored.get(key)
        if code is not None:
            self.used[key] = code
        return code

    def put(self, key: CodeKey, code: CodeType) -> None:
        self.used[key] = code

    def save(self) -> None:
        """Write the file when this run compiled something new; a cache that cannot be written is skipped."""
        if all(key in self.stored for key in self.used):
            return
        merged = {**self.stored, **self.used}
        keep = merged if len(merged) <= MAX_ENTRIES else self.used
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _remove_stale_temporaries(self.path.parent)
            write_atomically(self.path, marshal.dumps(keep))


def _remove_stale_temporaries(folder: Path) -> None:
    cutoff = time.time() - STALE_TEMP_SECONDS
    for temporary in folder.glob(".*.tmp"):
        with contextlib.suppress(OSError):
            if temporary.stat().st_mtime < cutoff:
                temporary.unlink()


class CodeCaches:
    """One CodeCache per environment fingerprint met during a run, below FOLDER."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._by_fingerprint: dict[str, CodeCache] = {}

    def for_environment(self, env: Any) -> CodeCache | None:
        digest = fingerprint(env)
        if digest is None:
            return None
        if digest not in self._by_fingerprint:
            self._by_fingerprint[digest] = CodeCache(self.folder / f"{digest}.marshal")
        return self._by_fingerprint[digest]

    def save(self) -> None:
        for cache in self._by_fingerprint.values():
            cache.save()


@contextlib.contextmanager
def disk_caches(folder: Path | None) -> Iterator[CodeCaches | None]:
    """Code caches below FOLDER (None: no disk cache), saved when the block ends without an error."""
    if folder is None:
        yield None
        return
    caches = CodeCaches(folder)
    yield caches
    caches.save()
