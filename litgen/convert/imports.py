"""Imports the conversion made unused (`DistributedSampler`, `tqdm`, `Variable`) are removed by libcst.

Only an import the script used and the converted script no longer uses goes: an import the
user left unused (perhaps for its side effects) stays. libcst's `RemoveImportsVisitor` checks
with scope analysis that nothing refers to the name before it removes it.
"""

from __future__ import annotations

import io
import re
import tokenize

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import RemoveImportsVisitor

from litgen.convert.names import as_name, dotted


def _bound_imports(module: cst.Module) -> list[tuple[str, str | None, str | None, str]]:
    """Module-level imports as (module, object, alias, local name)."""
    found: list[tuple[str, str | None, str | None, str]] = []
    for statement in module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, cst.Import):
                for alias in small.names:
                    name = dotted(alias.name) or ""
                    asname = as_name(alias)
                    found.append((name, None, asname, asname or name.split(".")[0]))
            elif (
                isinstance(small, cst.ImportFrom)
                and not small.relative
                and small.module is not None
            ):
                if isinstance(small.names, cst.ImportStar):
                    continue
                base = dotted(small.module) or ""
                for alias in small.names:
                    name = dotted(alias.name) or ""
                    asname = as_name(alias)
                    found.append((base, name, asname, asname or name))
    return found


def names_outside_imports(code: str) -> set[str]:
    """Identifiers the code mentions outside import statements, strings and comments."""
    names: set[str] = set()
    in_import, line_start = False, True
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
                in_import, line_start = False, True
                continue
            if token.type in (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT):
                continue
            if line_start and token.type == tokenize.NAME and token.string in ("import", "from"):
                in_import = True
            line_start = False
            if token.type == tokenize.NAME and not in_import:
                names.add(token.string)
    except (tokenize.TokenError, SyntaxError):
        return {word for word in re.findall(r"\w+", code)}  # cannot tell: keep every import
    return names


def drop_imports_made_unused(original: str, converted: cst.Module) -> str:
    """The converted code without the imports that only the replaced training code used."""
    code = converted.code
    before = names_outside_imports(original)
    after = names_outside_imports(code)
    candidates = []
    for module, obj, asname, local in _bound_imports(converted):
        if local != "__future__" and local in before and local not in after:
            candidates.append((module, obj, asname))
    if not candidates:
        return code  # the common case costs two tokenizer passes, not a scope analysis
    context = CodemodContext()
    for module, obj, asname in candidates:
        RemoveImportsVisitor.remove_unused_import(context, module, obj, asname)
    return RemoveImportsVisitor(context).transform_module(converted).code
