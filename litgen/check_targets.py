"""Which program `litgen check` runs for a path: a script, or a litgen project's `python -m` entry."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litgen.errors import UsageError

EXPECTED_TARGET = (
    "a .py script, or a folder made by `litgen new` (pyproject.toml with a [tool.litgen] table)"
)


@dataclass(frozen=True)
class CheckTarget:
    """A program to run: a script (`python PATH ARGS`) or a project (`python -m MODULE CHECK_ARGS ARGS`)."""

    given: Path
    kind: str  # "script" | "module"
    path: Path  # the resolved script, or the project root
    module: str | None
    argv: tuple[str, ...]
    sys_path: tuple[str, ...]  # prepended to sys.path; a module run also gets its cwd after these


def resolve_target(path: Path, script_args: Sequence[str] = ()) -> CheckTarget:
    """Decide how to run PATH, or raise UsageError naming it and what is expected."""
    if not path.exists():
        raise UsageError(f"no such file or folder; expected {EXPECTED_TARGET}", path=path)
    resolved = path.resolve()
    if resolved.is_dir():
        return _resolve_project(path, resolved, script_args)
    if not resolved.is_file() or resolved.suffix != ".py":
        raise UsageError(f"not a Python script; expected {EXPECTED_TARGET}", path=path)
    arguments = [
        _resolve_argument(Path.cwd(), arg) for arg in script_args
    ]  # the program runs elsewhere
    source = _read_source(resolved, path)
    if _FABRIC.search(source) and not _TRAINER.search(source):
        raise UsageError(
            "trains with Lightning Fabric, which has no fast_dev_run to force; "
            "litgen check runs programs that train with a Lightning Trainer",
            path=path,
        )
    if (
        _LIGHTNING_CLI.search(source)
        and "run=False" not in source
        and not (arguments and arguments[0] in _CLI_SUBCOMMANDS)
    ):
        if not any(arg in ("-h", "--help", "--print_config") for arg in arguments):
            # what `python train.py` alone cannot do: LightningCLI needs a subcommand
            arguments.insert(0, "fit")
    return CheckTarget(
        path, "script", resolved, None, (str(resolved), *arguments), (str(resolved.parent),)
    )


_FABRIC = re.compile(r"\bFabric\s*\(")
_TRAINER = re.compile(r"\bTrainer\s*\(|\bLightningCLI\s*\(")
_LIGHTNING_CLI = re.compile(r"\bLightningCLI\s*\(")
_CLI_SUBCOMMANDS = ("fit", "validate", "test", "predict")


def _read_source(resolved: Path, given: Path) -> str:
    try:
        with resolved.open("rb") as handle:
            return handle.read(2_000_000).decode("utf-8", errors="replace")
    except OSError as error:
        raise UsageError(f"cannot read it: {error.strerror or error}", path=given) from None


def _resolve_project(given: Path, root: Path, script_args: Sequence[str]) -> CheckTarget:
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        raise UsageError(f"folder has no pyproject.toml; expected {EXPECTED_TARGET}", path=given)
    tool = load_toml(pyproject).get("tool")
    table = tool.get("litgen") if isinstance(tool, dict) else None
    if not isinstance(table, dict):
        raise UsageError(f"no [tool.litgen] table; expected {EXPECTED_TARGET}", path=pyproject)
    module = table.get("module")
    if not isinstance(module, str) or not all(part.isidentifier() for part in module.split(".")):
        raise UsageError(
            '[tool.litgen] module must name the package run by `python -m`, e.g. module = "my_pkg"',
            path=pyproject,
        )
    check_args = table.get("check-args", [])
    if not isinstance(check_args, list) or not all(isinstance(arg, str) for arg in check_args):
        raise UsageError(
            "[tool.litgen] check-args must be a list of strings, "
            'e.g. check-args = ["fit", "--config", "configs/default.yaml"]',
            path=pyproject,
        )
    module_path = root.joinpath("src", *module.split("."))
    if not ((module_path / "__main__.py").is_file() or module_path.with_suffix(".py").is_file()):
        relative = "/".join(module.split("."))
        raise UsageError(
            f"[tool.litgen] module {module!r} has no src/{relative}/__main__.py to run with `python -m {module}`",
            path=pyproject,
        )
    callers = (_resolve_argument(Path.cwd(), arg) for arg in script_args)
    argv = (module, *(_resolve_argument(root, arg) for arg in check_args), *callers)
    return CheckTarget(given, "module", root, module, argv, (str(root / "src"),))


def load_toml(path: Path) -> dict[str, Any]:
    """A TOML file (pyproject.toml) as a dict; UsageError if it cannot be read or parsed."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise UsageError(
                "reading pyproject.toml needs Python 3.11+ or the tomli package", path=path
            ) from None
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, ValueError) as error:  # TOMLDecodeError is a ValueError
        raise UsageError(f"cannot read it: {error}", path=path) from None


def _resolve_argument(root: Path, argument: str) -> str:
    """Make check-args paths absolute, because the program runs in a scratch folder, not in the project."""
    if argument.startswith("-"):
        name, equals, value = argument.partition("=")
        return f"{name}={_resolve_path(root, value)}" if equals else argument
    return _resolve_path(root, argument)


def _resolve_path(root: Path, value: str) -> str:
    if value and not os.path.isabs(value) and (root / value).exists():
        return str(root / value)
    return value
