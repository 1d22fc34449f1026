"""The shipped templates and what each asks: template lookup by name, shared by new, update, add and releases.

A shipped copier template may serve several litgen templates through a ``task`` question: each
of its choices is listed as a template of its own (``classifier``, ``gan``, ...), whose questions
are those the task asks (copier's ``when``) with the choices the task allows (copier's per-choice
``validator``). Rendering such a template passes ``task`` as a fixed answer.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from litgen.errors import UsageError

DEFAULT_TEMPLATE = "classifier"
TASK_QUESTION = "task"


@dataclass(frozen=True)
class TemplateInfo:
    """What `litgen templates` shows about one template, and the fixed answers that select it."""

    name: str
    path: Path
    description: str
    questions: list[str]
    multiselect: frozenset[str] = frozenset()
    # question -> copier type (str, int, float, bool, ...)
    types: Mapping[str, str] = field(default_factory=dict)
    # question -> the values it accepts
    choices: Mapping[str, list[Any]] = field(default_factory=dict)
    # question -> its default (may be a Jinja template)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    # answers the name fixes, e.g. {"task": "gan"}
    preset: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "questions": [
                {
                    "name": question,
                    "type": self.types.get(question, "str"),
                    "default": self.defaults.get(question),
                    "choices": self.choices.get(question),
                    "multiselect": question in self.multiselect,
                }
                for question in self.questions
            ],
        }


def templates_root() -> Path:
    """The folder holding the templates: inside the wheel, or the repository's top-level templates/."""
    package_dir = Path(__file__).resolve().parent
    shipped = package_dir / "templates"  # where the wheel puts them (see pyproject force-include)
    if shipped.is_dir():
        return shipped
    return package_dir.parent / "templates"  # editable install / source checkout


# copier.yml path -> (its stat when read, its content): `litgen new` looks a template up, then finds
# its folder again to pin it
_read: dict[Path, tuple[tuple[int, int, int], dict[str, Any]]] = {}


def read_copier_yml(template_dir: Path) -> dict[str, Any]:
    """TEMPLATE_DIR/copier.yml as a mapping, or a UsageError naming the file (and line) that is wrong."""
    config_file = template_dir / "copier.yml"
    try:
        stat = config_file.stat()
        seen = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
    except OSError:
        seen = None
    cached = _read.get(config_file)
    if seen is not None and cached is not None and cached[0] == seen:
        return copy.deepcopy(cached[1])
    loaded = _load_copier_yml(config_file)
    if seen is not None:
        _read[config_file] = (seen, copy.deepcopy(loaded))
    return loaded


def _load_copier_yml(config_file: Path) -> dict[str, Any]:
    import yaml

    # libyaml's loader when PyYAML was built with it: the pure-Python one costs ~10 ms per template
    # here
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        loaded = yaml.load(config_file.read_text(encoding="utf-8"), Loader=loader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or "not valid YAML"
        raise UsageError(
            f"is not valid YAML: {problem}", path=config_file, line=mark.line + 1 if mark else None
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read it: {error}", path=config_file) from None
    if not isinstance(loaded, dict):
        raise UsageError("is not a copier configuration (expected a mapping)", path=config_file)
    return loaded


def _choice_values(choices: Any) -> list[Any]:
    """copier's choices as the values an answer may take: a list, or a mapping of label -> value."""
    if isinstance(choices, dict):
        values = [
            value.get("value") if isinstance(value, dict) else value for value in choices.values()
        ]
        return [value[0] if isinstance(value, list) and value else value for value in values]
    return list(choices) if isinstance(choices, list) else [choices]


def _render(text: Any, context: Mapping[str, Any]) -> Any:
    """TEXT rendered with CONTEXT when it is a Jinja string that needs nothing else; else TEXT unchanged."""
    if not isinstance(text, str) or ("{{" not in text and "{%" not in text):
        return text
    import jinja2

    try:
        return _compiled(text).render(context).strip()
    except jinja2.TemplateError:  # it depends on other answers: show it as copier will evaluate it
        return text


@functools.cache
def _compiled(text: str) -> Any:
    """TEXT compiled once: every task's listing renders the same questions' Jinja strings."""
    import jinja2

    environment = jinja2.Environment(
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    return environment.from_string(text)


def _task_choices(spec: Mapping[str, Any], context: Mapping[str, Any]) -> list[Any]:
    """The choices of a question that the task does not disable (copier's per-choice validator)."""
    choices = spec["choices"]
    if not isinstance(choices, dict):
        return _choice_values(choices)
    allowed = {
        label: value
        for label, value in choices.items()
        if not (isinstance(value, dict) and _render(value.get("validator", ""), context))
    }
    return _choice_values(allowed)


def _info(
    template_dir: Path, name: str, config: Mapping[str, Any], preset: Mapping[str, str]
) -> TemplateInfo:
    description_file = template_dir / "DESCRIPTION"
    description = (
        description_file.read_text(encoding="utf-8").strip() if description_file.exists() else ""
    )
    # copier treats every key that does not start with "_" as a question; a preset one is not asked.
    questions = [key for key in config if not key.startswith("_") and key not in preset]
    specs = {key: config[key] for key in questions if isinstance(config[key], dict)}
    if preset:
        description = _render(_task_label(config, preset[TASK_QUESTION]), preset)
        # A question the task does not ask (`when` false), or a computed value, is not one of its
        # questions.
        questions = [
            key
            for key in questions
            if key not in specs
            or _render(specs[key].get("when", True), preset) not in (False, "false", "False", "")
        ]
        specs = {key: spec for key, spec in specs.items() if key in questions}
    multiselect = frozenset(key for key, spec in specs.items() if spec.get("multiselect"))
    types = {key: str(spec.get("type", "str")) for key, spec in specs.items()}

    def choices() -> dict[str, list[Any]]:
        return {
            key: _task_choices(spec, preset) for key, spec in specs.items() if spec.get("choices")
        }

    def defaults() -> dict[str, Any]:
        found = {key: spec.get("default") for key, spec in specs.items() if "default" in spec}
        if preset:  # a default that depends only on the task is shown as its value for this task
            found = {
                key: _typed(_render(value, preset), types[key]) for key, value in found.items()
            }
        # `question: default` shorthand
        found.update({key: config[key] for key in questions if key not in specs})
        return found

    return TemplateInfo(
        name,
        template_dir,
        description,
        questions,
        multiselect,
        types,
        # rendered when first read (`litgen templates`), not by `litgen new`, which needs neither
        _Computed(choices),
        _Computed(defaults),
        dict(preset),
    )


class _Computed(Mapping[str, Any]):
    """A mapping computed the first time it is read."""

    def __init__(self, compute: Callable[[], Mapping[str, Any]]) -> None:
        self._compute = compute
        self._value: Mapping[str, Any] | None = None

    def _data(self) -> Mapping[str, Any]:
        if self._value is None:
            self._value = self._compute()
        return self._value

    def __getitem__(self, key: str) -> Any:
        return self._data()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data())

    def __len__(self) -> int:
        return len(self._data())

    def __repr__(self) -> str:
        return repr(self._data())


def _typed(value: Any, kind: str) -> Any:
    """A rendered default as the question's type (Jinja renders text); unchanged if it does not convert."""
    converters: dict[str, Any] = {
        "int": int,
        "float": float,
        "bool": lambda text: text.lower() == "true",
    }
    if not isinstance(value, str) or kind not in converters or "{" in value:
        return value
    try:
        return converters[kind](value)
    except ValueError:
        return value


def _task_label(config: Mapping[str, Any], task: str) -> str:
    choices = config[TASK_QUESTION]["choices"]
    return (
        next(label for label, value in choices.items() if value == task)
        if isinstance(choices, dict)
        else task
    )


def tasks_of(config: Mapping[str, Any]) -> list[str]:
    """The tasks a template serves through its ``task`` question (none for an ordinary template)."""
    spec = config.get(TASK_QUESTION)
    return (
        [str(task) for task in _choice_values(spec["choices"])]
        if isinstance(spec, dict) and spec.get("choices")
        else []
    )


def _shipped_infos(template_dir: Path) -> list[TemplateInfo]:
    """The templates a shipped folder provides: one per task, or the folder itself."""
    config = read_copier_yml(template_dir)
    tasks = tasks_of(config)
    if not tasks:
        return [_info(template_dir, template_dir.name, config, {})]
    return [_info(template_dir, task, config, {TASK_QUESTION: task}) for task in tasks]


def _shipped_folders() -> list[Path]:
    """The shipped template folders (``_components`` and hidden folders are not templates)."""
    root = templates_root()
    return [
        folder
        for folder in sorted(root.iterdir())
        if (folder / "copier.yml").is_file() and not folder.name.startswith((".", "_"))
    ]


def list_templates() -> list[TemplateInfo]:
    """Every template shipped with litgen, sorted with the default first."""
    found = [info for folder in _shipped_folders() for info in _shipped_infos(folder)]
    return sorted(found, key=lambda info: (info.name != DEFAULT_TEMPLATE, info.name))


def _shipped_task(name: str) -> tuple[Path, dict[str, Any]] | None:
    """The shipped folder whose ``task`` question offers NAME, with its copier.yml; None if none does."""
    for folder in _shipped_folders():
        config = read_copier_yml(folder)
        if name in tasks_of(config):
            return folder, config
    return None


def find_template(name: str) -> TemplateInfo:
    """The shipped template called NAME, or a local copier template folder, or a UsageError listing both kinds."""
    local = Path(name).expanduser()
    if (local / "copier.yml").is_file():
        folder = local.resolve()
        return _info(folder, folder.name, read_copier_yml(folder), {})
    if "/" not in name and not name.startswith((".", "_")):
        own = templates_root() / name
        if (own / "copier.yml").is_file():  # only this template's copier.yml is parsed
            plain = _shipped_infos(own)
            if [info.name for info in plain] == [name]:
                return plain[0]
        task = _shipped_task(name)  # only the task asked for is described
        if task is not None:
            folder, config = task
            return _info(folder, name, config, {TASK_QUESTION: name})
    names = ", ".join(info.name for info in list_templates()) or "none"
    raise UsageError(
        f"unknown template '{name}'; available templates: {names} (or a folder with a copier.yml)"
    )


def shipped_folder(name: str) -> Path | None:
    """The shipped folder holding template NAME (its own folder, or the folder whose task it is), or None."""
    root = templates_root()
    if (root / name / "copier.yml").is_file():
        return root / name
    task = _shipped_task(name)
    return task[0] if task is not None else None
