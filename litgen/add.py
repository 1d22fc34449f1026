"""`litgen add COMPONENT`: put one more piece into a generated project without touching the rest.

Two kinds of component:
- ``logger`` and ``slurm`` are questions of litgen's templates. Adding one re-answers the
  question at the project's own template version and lets copier merge the difference (config,
  pyproject, README, scripts) into the project exactly like ``litgen update`` does, so the
  answers file stays true and later updates keep the piece in step with the template.
- ``callback`` and ``export`` are new files rendered from ``templates/_components/<name>/``; the
  only existing file they edit is the LightningCLI config, by inserting lines at the end of
  ``trainer.callbacks``, which keeps every comment and format choice. A config that does not
  have the usual shape is left alone, with a note saying what to add by hand.
"""

from __future__ import annotations

import ast
import keyword
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from litgen.check_targets import load_toml
from litgen.errors import UsageError
from litgen.update import (
    MergeReport,
    Project,
    merge_template_change,
    read_project,
    require_clean_git,
)
from litgen.yaml_text import append_list_item

DEFAULT_CONFIG = "configs/default.yaml"


@dataclass(frozen=True)
class Component:
    """One thing `litgen add` knows how to add, and the --data options it takes."""

    name: str
    summary: str
    options: Mapping[str, str]
    add: Callable[[Project, Mapping[str, str]], MergeReport]


def add_component(path: Path, component: str, options: Mapping[str, str]) -> MergeReport:
    """Add COMPONENT to the litgen project at PATH; a UsageError if it is already there or cannot be added."""
    spec = COMPONENTS.get(component)
    if spec is None:
        raise UsageError(
            f"unknown component '{component}'; litgen can add: {', '.join(COMPONENTS)}"
        )
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        takes = ", ".join(f"{key} ({text})" for key, text in spec.options.items()) or "no options"
        raise UsageError(f"component {component} has no option '{unknown[0]}'; it takes: {takes}")
    return spec.add(read_project(path), options)


# --- components that re-answer a template question -----------------------------------------------


def _reanswer(project: Project, answers: Mapping[str, object]) -> MergeReport:
    """Render the project's own template version with ANSWERS changed and merge the difference in."""
    from litgen.template_source import cache_errors, installed_source

    source = installed_source()
    with cache_errors(source):
        pinned = source.existing(project.template, project.commit)
    if pinned is None:
        raise UsageError(
            f"was generated from {project.template} {project.commit}, which this litgen does not have; "
            "run `litgen update` first",
            path=project.answers_file,
        )
    require_clean_git(project.root)
    return merge_template_change(project, pinned, pinned, answers)


def _require_question(project: Project, question: str, component: str) -> object:
    if question not in project.answers:
        raise UsageError(
            f"template '{project.template}' has no '{question}' question, so litgen cannot add {component} to it"
        )
    return project.answers[question]


def _add_logger(project: Project, options: Mapping[str, str]) -> MergeReport:
    kind = options.get("kind", "csv")
    if kind not in ("csv", "tensorboard"):
        raise UsageError(f"--data kind: expected csv or tensorboard, got '{kind}'")
    current = _require_question(project, "logger", "a logger")
    if current == kind:
        raise UsageError(
            f"already has a {kind} logger (logger: {kind} in .copier-answers.yml)",
            path=project.root,
        )
    report = _reanswer(project, {"logger": kind})
    if current != "none":
        report.notes.append(
            f"replaced the {current} logger: a project of template '{project.template}' has one logger"
        )
    return report


def _add_slurm(project: Project, options: Mapping[str, str]) -> MergeReport:
    enabled = _require_question(project, "slurm", "a SLURM script")
    if enabled is True or (project.root / "scripts" / "train.sbatch").exists():
        raise UsageError("already has a SLURM script (scripts/train.sbatch)", path=project.root)
    answers: dict[str, object] = {"slurm": True, **options}
    if str(answers.get("devices", project.answers.get("devices"))) == "auto":
        raise UsageError(
            "a SLURM script starts one task per device, but the project has devices: auto; pass --data devices=N"
        )
    return _reanswer(project, answers)


# --- components made of new files -----------------------------------------------------------------


def _components_root() -> Path:
    from litgen.catalog import templates_root

    return templates_root() / "_components"


def _render_component(name: str, variables: Mapping[str, str]) -> dict[str, str]:
    """Relative path -> text of every file of component NAME, rendered like litgen's copier templates."""
    import jinja2

    environment = jinja2.Environment(
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    folder = _components_root() / name
    rendered: dict[str, str] = {}
    for source in sorted(
        p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    ):
        relative = environment.from_string(source.relative_to(folder).as_posix()).render(variables)
        text = source.read_text(encoding="utf-8")
        if relative.endswith(".jinja"):
            relative, text = (
                relative.removesuffix(".jinja"),
                environment.from_string(text).render(variables),
            )
        rendered[relative] = text
    return rendered


def _package(project: Project) -> str:
    package = str(project.answers.get("package_name", ""))
    if not package or not (project.root / "src" / package / "__init__.py").is_file():
        raise UsageError(
            f"has no package src/{package or '<package_name>'}/ as its answers file says",
            path=project.root,
        )
    return package


def _config_path(project: Project) -> str:
    """The LightningCLI config `litgen check` runs ([tool.litgen] check-args), else configs/default.yaml."""
    try:
        settings = load_toml(project.root / "pyproject.toml")
    except UsageError:
        return DEFAULT_CONFIG
    arguments = settings.get("tool", {}).get("litgen", {}).get("check-args", [])
    if "--config" in arguments[:-1]:
        return str(arguments[arguments.index("--config") + 1])
    return DEFAULT_CONFIG


def _write_new_files(project: Project, files: Mapping[str, str], report: MergeReport) -> None:
    """Create every file or none: a file that already exists stops the whole component before anything is written."""
    existing = [name for name in files if (project.root / name).exists()]
    if existing:
        raise UsageError(f"already has {existing[0]}; nothing was added", path=project.root)
    created: list[Path] = []
    try:
        for name, text in files.items():
            target = project.root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.litgen-partial")
            partial.write_text(text, encoding="utf-8")
            if name.endswith(".py") and name.startswith("scripts/"):
                partial.chmod(0o755)
            os.replace(partial, target)
            created.append(target)
            report.added.append(name)
    except OSError:
        for target in created:
            target.unlink(missing_ok=True)
        raise


def _snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _add_callback(project: Project, options: Mapping[str, str]) -> MergeReport:
    class_name = options.get("name", "EpochTimer")
    if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", class_name) or keyword.iskeyword(class_name):
        raise UsageError(
            f"--data name: expected a class name in CamelCase such as EpochTimer, got '{class_name}'"
        )
    module = _snake_case(class_name)
    if keyword.iskeyword(module):
        raise UsageError(
            f"--data name: '{class_name}' would live in {module}.py, and `{module}` is a Python keyword "
            "that cannot be imported; choose another name, such as {class_name}Callback".replace(
                "{class_name}", class_name
            )
        )
    package, config_path = _package(project), _config_path(project)
    class_path = f"{package}.{module}.{class_name}"
    config = project.root / config_path
    try:
        config_text = config.read_text(encoding="utf-8") if config.is_file() else None
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read it as UTF-8 text: {error}", path=config) from None
    if config_text is not None and re.search(
        rf"class_path:\s*['\"]?{re.escape(class_path)}\b", config_text
    ):
        raise UsageError(f"already registers {class_path} in {config_path}", path=project.root)
    variables = {
        "package_name": package,
        "module": module,
        "class_name": class_name,
        "config_path": config_path,
    }
    report = MergeReport(project.root, project.template, project.commit, project.commit)
    entry = [
        f"# {class_name}: added by `litgen add callback` (src/{package}/{module}.py)",
        f"- class_path: {class_path}",
        "  init_args:",
        "    log_name: epoch_seconds",
    ]
    edited = (
        append_list_item(config_text, ("trainer", "callbacks"), entry)
        if config_text is not None
        else None
    )
    _write_new_files(project, _render_component("callback", variables), report)
    if edited is None:
        report.notes.append(
            f"register it yourself: add `- class_path: {class_path}` under trainer.callbacks in {config_path}"
        )
        return report
    partial = config.with_name(f".{config.name}.litgen-partial")
    partial.write_text(edited, encoding="utf-8")
    os.replace(partial, config)
    report.changed.append(config_path)
    return report


def _cli_classes(main_file: Path) -> tuple[str, str, str, str]:
    """(model module, model class, data module, data class) passed to the LightningCLI in ``__main__.py``.

    It also checks the contract the export test relies on: a ``main(args, run)`` function, as
    litgen's templates define it.
    """
    try:
        tree = ast.parse(main_file.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        reason = "cannot be read as Python; export needs the project's LightningCLI entry point"
        raise UsageError(reason, path=main_file) from None
    imported = {
        alias.asname or alias.name: node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    parameters = {arg.arg for arg in functions["main"].args.args} if "main" in functions else set()
    if not {"args", "run"} <= parameters:
        raise UsageError(
            "defines no main(args, run) building the LightningCLI; export's test needs one",
            path=main_file,
        )
    for node in ast.walk(functions["main"]):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id.endswith("CLI")
        ):
            keywords = {kw.arg: kw.value for kw in node.keywords}
            given = [*node.args[:2], keywords.get("model_class"), keywords.get("datamodule_class")]
            names = [value.id for value in given if isinstance(value, ast.Name)]
            if len(names) >= 2 and all(name in imported for name in names[:2]):
                model, data = names[:2]
                return str(imported[model]), model, str(imported[data]), data
    raise UsageError(
        "does not pass an imported model and datamodule class to a LightningCLI in main(); export needs both",
        path=main_file,
    )


def _add_export(project: Project, options: Mapping[str, str]) -> MergeReport:
    package = _package(project)
    if (project.root / "scripts" / "export.py").exists():
        raise UsageError("already has scripts/export.py", path=project.root)
    model_module, model_class, data_module, data_class = _cli_classes(
        project.root / "src" / package / "__main__.py"
    )
    variables = {
        "package_name": package,
        "project_name": str(project.answers.get("project_name", package)),
        "model_module": model_module,
        "model_class": model_class,
        "data_module": data_module,
        "data_class": data_class,
        "config_path": _config_path(project),
    }
    report = MergeReport(project.root, project.template, project.commit, project.commit)
    _write_new_files(project, _render_component("export", variables), report)
    report.notes.append(
        "export a checkpoint: python scripts/export.py CKPT [--format export|torchscript]"
    )
    return report


COMPONENTS: dict[str, Component] = {
    component.name: component
    for component in (
        Component(
            "logger",
            "an experiment logger (the template's logger question)",
            {"kind": "csv or tensorboard (default csv)"},
            _add_logger,
        ),
        Component(
            "callback",
            "a custom Callback with state_key and its test, registered in the config",
            {"name": "class name, default EpochTimer"},
            _add_callback,
        ),
        Component(
            "slurm",
            "scripts/train.sbatch for multi-node training (the template's slurm question)",
            {
                "devices": "devices per node, if the project has auto",
                "num_nodes": "number of nodes",
                "strategy": "ddp, fsdp, ... (several nodes need one)",
            },
            _add_slurm,
        ),
        Component(
            "export",
            "scripts/export.py: checkpoint -> torch.export or TorchScript, with an equivalence test",
            {},
            _add_export,
        ),
    )
}
