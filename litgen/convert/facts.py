"""What the setup code of a script defines: models, optimizers, schedulers, scalers, devices, arguments."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields

import libcst as cst

from litgen.convert.names import (
    bound_values,
    call_name,
    dotted,
    root_name,
    target_names,
    usage,
)
from litgen.convert.rules.distributed import (
    DATA_PARALLEL,
    DDP_WRAPPERS,
    PLUMBING_CALLS,
    SAMPLERS,
    SPAWNS,
    is_rank_source,
    plumbing_functions,
    rank_kind,
    sampler_shuffle,
    spawned,
    unwrap_parallel,
)
from litgen.convert.script import Script, walk_statements
from litgen.convert.structure import Shape, unwrap_progress

SCHEDULER_PREFIX = "torch.optim.lr_scheduler"
PLATEAU = ("torch.optim.lr_scheduler.ReduceLROnPlateau",)
SCALERS = (
    "torch.cuda.amp.GradScaler",
    "torch.amp.GradScaler",
    "torch.cpu.amp.GradScaler",
    "torch.amp.grad_scaler.GradScaler",
)
_MODEL_FACTORIES = ("torchvision.models.", "timm.", "torch.hub.load", "transformers.")
DRY_RUN_FLAG = re.compile(r"(dry|smoke|fast|quick|sanity)[_-]?(run|test|dev|check)", re.IGNORECASE)
# `--cuda`, `--use-gpu`, `--mps`: store_true flags that opt into an accelerator (`--gpu` is often a
# GPU index)
GPU_OPT_IN_FLAG = re.compile(
    r"^(cuda|use[_-]?(cuda|gpu|accel|mps|xpu)|mps|xpu|accel)$", re.IGNORECASE
)
CPU_FLAG = re.compile(
    r"^(no[_-]?(cuda|gpu|accel|mps)|cpu|cpu[_-]?only|use[_-]?cpu|disable[_-]?cuda)$", re.IGNORECASE
)


@dataclass
class Binding:
    """`name = value` somewhere in the setup code (module level or the entry function)."""

    name: str
    value: cst.BaseExpression
    statement: cst.BaseStatement
    in_entry: bool


@dataclass
class Facts:
    bindings: dict[str, list[Binding]] = field(default_factory=dict)
    entry_locals: set[str] = field(default_factory=set)
    modules: set[str] = field(default_factory=set)
    models: list[str] = field(default_factory=list)
    optimizers: dict[str, Binding] = field(default_factory=dict)
    schedulers: dict[str, Binding] = field(default_factory=dict)
    scalers: set[str] = field(default_factory=set)
    devices: set[str] = field(default_factory=set)
    arg_flags: dict[str, str] = field(default_factory=dict)  # dest -> option string, from argparse
    entry_params: set[str] = field(default_factory=set)
    binding_lines: dict[str, list[int]] = field(default_factory=dict)
    region_line: int = 0
    aliases: dict[str, cst.BaseExpression] = field(default_factory=dict)  # ddp_model -> model
    parallel_wrapped: set[int] = field(default_factory=set)
    # names that held a DDP wrapper (`x.module`)
    parallel_names: set[str] = field(default_factory=set)
    samplers: dict[str, cst.BaseExpression] = field(default_factory=dict)
    ranks: dict[str, str] = field(default_factory=dict)  # rank variable -> global_rank / local_rank
    plumbing: set[str] = field(default_factory=set)
    spawn_statements: set[int] = field(default_factory=set)
    distributed: bool = False
    data_parallel: bool = False  # nn.DataParallel only: removed without choosing a strategy

    def bound_before(self, name: str) -> bool:
        """Whether `name` has a value before the training loop starts (so it can be handed over)."""
        if name in self.entry_params:
            return True
        lines = self.binding_lines.get(name)
        if lines is not None:
            return any(line < self.region_line for line in lines)
        return name in self.entry_locals

    def last(self, name: str) -> Binding | None:
        found = self.bindings.get(name)
        return found[-1] if found else None

    def derived(self) -> Facts:
        """A copy planning may extend (hoisted arguments, optimizers found in inlined helpers); this one stays."""
        copied = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, dict):
                value = {
                    key: list(entry) if isinstance(entry, list) else entry
                    for key, entry in value.items()
                }
            elif isinstance(value, (set, list)):
                value = type(value)(value)
            copied[item.name] = value
        return Facts(**copied)

    def is_scheduler_class(self, script: Script, name: str) -> str | None:
        binding = self.schedulers.get(name)
        if binding is None or not isinstance(binding.value, cst.Call):
            return None
        return script.imports.qualify(binding.value.func)


def is_argparse_namespace(value: cst.BaseExpression | None) -> bool:
    """`parser.parse_args()`, or `parser.parse_known_args()[0]` (and the tuple a `args, _ = ...` unpacks)."""
    if isinstance(value, cst.Subscript):
        value = value.value
    return isinstance(value, cst.Call) and call_name(value) in ("parse_args", "parse_known_args")


def statements_outside(
    script: Script, scope: cst.CSTNode, region: cst.CSTNode
) -> list[cst.BaseStatement]:
    found = []
    for statement in walk_statements(scope):
        if statement is region or any(a is region for a in script.ancestors(statement)):
            continue
        if isinstance(statement, cst.BaseStatement):
            found.append(statement)
    return found


def collect_facts(script: Script, shape: Shape) -> Facts:
    facts = Facts()
    scopes: list[tuple[cst.CSTNode, bool]] = [(script.module, False)]
    if shape.entry is not None:
        scopes.append((shape.entry.body, True))
        outside = statements_outside(script, shape.entry.body, shape.region)
        facts.entry_params = {p.name.value for p in shape.entry.params.params}
        facts.entry_locals = set(facts.entry_params)
        for statement in outside:
            if isinstance(statement, cst.SimpleStatementLine):
                facts.entry_locals |= usage([statement]).assigned
            elif isinstance(statement, (cst.For, cst.With)):
                facts.entry_locals |= usage(
                    [statement.target if isinstance(statement, cst.For) else statement.items[0]]
                ).assigned
    for scope, in_entry in scopes:
        for statement in statements_outside(script, scope, shape.region):
            if not isinstance(statement, cst.SimpleStatementLine):
                continue
            for small in statement.body:
                if isinstance(small, cst.Assign):
                    for target in small.targets:
                        for bound, value in bound_values(target.target, small.value):
                            facts.bindings.setdefault(bound, []).append(
                                Binding(bound, value, statement, in_entry)
                            )
                elif isinstance(small, cst.AnnAssign) and small.value is not None:
                    for name in target_names(small.target):
                        facts.bindings.setdefault(name, []).append(
                            Binding(name, small.value, statement, in_entry)
                        )
                elif (
                    isinstance(small, cst.Expr)
                    and isinstance(small.value, cst.Call)
                    and call_name(small.value) == "add_argument"
                ):
                    _record_argument(small.value, facts)
    facts.region_line = script.line(shape.region) or 0
    for name, bindings in facts.bindings.items():
        facts.binding_lines[name] = [script.line(b.statement) or 0 for b in bindings]
    collect_distributed(script, facts, shape.entry)
    _classify(script, facts)
    return facts


def _record_argument(call: cst.Call, facts: Facts) -> None:
    options = [
        a.value for a in call.args if a.keyword is None and isinstance(a.value, cst.SimpleString)
    ]
    if not options:
        return
    texts = [str(o.evaluated_value) for o in options]
    dest = next((a.value for a in call.args if a.keyword and a.keyword.value == "dest"), None)
    long = next((t for t in texts if t.startswith("--")), texts[0])
    name = (
        str(dest.evaluated_value)
        if isinstance(dest, cst.SimpleString)
        else long.lstrip("-").replace("-", "_")
    )
    facts.arg_flags[name] = long


def module_typed(script: Script, facts: Facts, value: cst.BaseExpression, depth: int = 0) -> bool:
    """Whether an expression builds an nn.Module (user class, torch.nn layer, torchvision model...)."""
    if depth > 4:
        return False
    if isinstance(value, cst.Call):
        qualified = script.imports.qualify(value.func) or ""
        if isinstance(value.func, cst.Name) and value.func.value in script.module_classes:
            return True
        if qualified.startswith("torch.nn.") and qualified.rsplit(".", 1)[-1][:1].isupper():
            return (
                not qualified.startswith("torch.nn.parallel") and qualified != "torch.nn.Parameter"
            )
        if any(qualified.startswith(prefix) for prefix in _MODEL_FACTORIES):
            return True
        if isinstance(value.func, cst.Attribute) and value.func.attr.value in (
            "to",
            "cuda",
            "float",
            "double",
            "half",
            "cpu",
        ):
            return module_typed(script, facts, value.func.value, depth + 1)
        return False
    if isinstance(value, cst.Name):
        return any(
            binding.value is not value and module_typed(script, facts, binding.value, depth + 1)
            for binding in facts.bindings.get(value.value, [])
        )
    return False


def parameter_roots(script: Script, facts: Facts, value: cst.CSTNode, depth: int = 0) -> list[str]:
    """The modules whose parameters an optimizer gets: `model.parameters()` -> model (follows names)."""
    roots: list[str] = []
    for node in _calls_in(value):
        if call_name(node) in ("parameters", "named_parameters") and isinstance(
            node.func, cst.Attribute
        ):
            root = root_name(node.func.value)
            if root in facts.aliases:  # `ddp_model.parameters()` trains `model`
                root = root_name(facts.aliases[root])
            if root is not None and root not in roots:
                roots.append(root)
    if not roots and depth < 3:
        for name in usage([value]).read:
            binding = facts.last(name)
            if binding is not None and binding.value is not value:
                roots.extend(
                    r
                    for r in parameter_roots(script, facts, binding.value, depth + 1)
                    if r not in roots
                )
    return roots


class _CallCollector(cst.CSTVisitor):
    def __init__(self) -> None:
        self.calls: list[cst.Call] = []

    def visit_Call(self, node: cst.Call) -> None:
        self.calls.append(node)


def _calls_in(node: cst.CSTNode) -> list[cst.Call]:
    collector = _CallCollector()
    node.visit(collector)
    return collector.calls


def is_device_value(script: Script, value: cst.BaseExpression) -> bool:
    """`torch.device(...)`, `"cuda" if torch.cuda.is_available() else "cpu"`, accelerator lookups."""
    if isinstance(value, cst.Call):
        if script.imports.starts(
            value.func, "torch.device", "torch.accelerator.current_accelerator"
        ):
            return True
        if isinstance(value.func, cst.Attribute) and value.func.attr.value == "current_accelerator":
            return True
        return False
    if isinstance(value, cst.SimpleString):
        text = str(value.evaluated_value)
        return text.split(":")[0] in ("cuda", "cpu", "mps", "xpu")
    if isinstance(value, cst.IfExp):
        return is_device_value(script, value.body) and is_device_value(script, value.orelse)
    return False


def _classify(script: Script, facts: Facts) -> None:
    for name, bindings in facts.bindings.items():
        for binding in bindings:
            _classify_binding(script, facts, name, binding.value)
    for binding in facts.optimizers.values():
        _learn_models(script, facts, binding)


def _classify_binding(script: Script, facts: Facts, name: str, value: cst.BaseExpression) -> None:
    qualified = (script.imports.qualify(value.func) if isinstance(value, cst.Call) else None) or ""
    binding = facts.last(name)
    assert binding is not None
    if qualified.startswith(SCHEDULER_PREFIX + "."):
        facts.schedulers[name] = binding
    elif qualified.startswith("torch.optim.") and qualified.rsplit(".", 1)[-1][:1].isupper():
        facts.optimizers[name] = binding
    elif qualified in SCALERS:
        facts.scalers.add(name)
    elif is_device_value(script, value):
        facts.devices.add(name)
    elif module_typed(script, facts, value):
        facts.modules.add(name)


def _learn_models(script: Script, facts: Facts, binding: Binding) -> None:
    for root in parameter_roots(script, facts, binding.value):
        if root not in facts.models:
            facts.models.append(root)
        facts.modules.add(root)


def learn_binding(script: Script, facts: Facts, statement: cst.BaseStatement, line: int) -> None:
    """A set-up statement litgen itself adds before the loop (a hoisted argument, an unrolled trainer)."""
    if not isinstance(statement, cst.SimpleStatementLine):
        return
    small = statement.body[0]
    if not isinstance(small, cst.Assign) or len(small.targets) != 1:
        return
    for name, value in bound_values(small.targets[0].target, small.value):
        binding = Binding(name, value, statement, True)
        facts.bindings.setdefault(name, []).append(binding)
        facts.binding_lines.setdefault(name, []).append(line)
        facts.entry_locals.add(name)
        _classify_binding(script, facts, name, value)
        if name in facts.optimizers:
            _learn_models(script, facts, binding)
        if is_rank_source(script, value):
            facts.ranks[name] = rank_kind(value)


def unwrap_iterable(
    script: Script, node: cst.BaseExpression
) -> tuple[cst.BaseExpression, cst.Call | None]:
    """`enumerate(tqdm(loader), 1)` -> (loader, the enumerate call)."""
    node = unwrap_progress(script, node)
    if isinstance(node, cst.Call) and dotted(node.func) == "enumerate" and node.args:
        return unwrap_progress(script, node.args[0].value), node
    return node, None


def collect_distributed(script: Script, facts: Facts, entry: cst.FunctionDef | None) -> None:
    """Record DDP wrappers, distributed samplers, rank variables, plumbing helpers and spawn targets."""
    facts.plumbing = plumbing_functions(script)
    for name, bindings in facts.bindings.items():
        value = bindings[-1].value
        unwrapped = unwrap_parallel(script, value)
        if unwrapped is not value:
            facts.parallel_wrapped.add(id(bindings[-1].statement))
            facts.parallel_names |= {name, root_name(unwrapped) or name}
            if root_name(unwrapped) != name:
                facts.aliases[name] = unwrapped
        shuffle = sampler_shuffle(script, value)
        if shuffle is not None:
            facts.samplers[name] = shuffle
        if is_rank_source(script, value):
            facts.ranks[name] = rank_kind(value)
    for statement in script.nodes_of(cst.SimpleStatementLine):
        for small in statement.body:
            if isinstance(small, cst.Expr):
                target = spawned(script, small.value)
                if target is not None and entry is not None and target[0] == entry.name.value:
                    positional = [*entry.params.posonly_params, *entry.params.params]
                    if positional:
                        facts.ranks[positional[0].name.value] = "global_rank"
                    facts.spawn_statements.add(id(statement))
    called = {script.imports.qualify(call.func) for call in script.nodes_of(cst.Call)}
    # picking a GPU (`torch.cuda.set_device`) alone is not distributed training
    used = bool(
        called & ({*PLUMBING_CALLS, *SAMPLERS, *DDP_WRAPPERS, *SPAWNS} - {"torch.cuda.set_device"})
    )
    facts.distributed = bool(used or facts.plumbing or facts.samplers)
    facts.data_parallel = bool(called & set(DATA_PARALLEL)) and not facts.distributed
