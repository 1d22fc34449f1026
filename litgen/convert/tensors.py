"""Tensors the hooks read: they become buffers, so they live on the module's device like its weights.

A script moves its constant tensors (normalisation statistics, class weights, masks) to `device`
itself. Once Lightning places the module, a tensor kept as a plain attribute stays on the CPU while
the batches arrive on the GPU. Registered as (non-persistent) buffers, they follow the module to
its device on every process, and checkpoints do not grow. A tensor the hook moves itself
(`X[idx].to(device)`, a dataset indexed by hand) is left alone: the script keeps it where it was.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import libcst as cst
import libcst.matchers as m

from litgen.convert.facts import Facts
from litgen.convert.names import ImportTable, call_name, root_name, usage

_FACTORIES = frozenset(
    "tensor as_tensor from_numpy zeros ones full empty rand randn randint randperm arange linspace logspace eye "
    "zeros_like ones_like full_like empty_like rand_like randn_like stack cat Tensor FloatTensor LongTensor".split()
)
# `torch.<function>` calls that do not return a tensor
_NOT_TENSORS = frozenset(
    "device manual_seed seed initial_seed no_grad enable_grad inference_mode set_grad_enabled load save "
    "is_tensor numel get_default_dtype set_default_dtype set_num_threads get_num_threads compile jit "
    "use_deterministic_algorithms set_printoptions Generator dtype finfo iinfo".split()
)
_WRAPPERS = ("torch.autograd.Variable", "torch.autograd.variable.Variable")
_TENSOR_METHODS = frozenset(
    "to cuda cpu float double half long int bool view reshape unsqueeze squeeze mean std var sum clone detach t "
    "permute transpose contiguous abs sqrt exp log flatten expand repeat type normal_ uniform_ fill_ max min".split()
)


def is_tensor_value(
    imports: ImportTable, facts: Facts, value: cst.BaseExpression, depth: int = 0
) -> bool:
    """Whether an expression evaluates to a torch tensor, as far as the script shows."""
    if depth > 6:
        return False
    if isinstance(value, cst.Call):
        qualified = imports.qualify(value.func) or ""
        module, _, function = qualified.rpartition(".")
        if module == "torch" and (
            function in _FACTORIES or (function[:1].islower() and function not in _NOT_TENSORS)
        ):
            return True
        if qualified in _WRAPPERS and value.args:  # `Variable(t)` is `t`
            return is_tensor_value(imports, facts, value.args[0].value, depth + 1)
        if isinstance(value.func, cst.Attribute) and call_name(value) in _TENSOR_METHODS:
            return is_tensor_value(imports, facts, value.func.value, depth + 1)
        return False
    if isinstance(value, cst.Subscript):
        return is_tensor_value(imports, facts, value.value, depth + 1)
    if isinstance(value, cst.BinaryOperation):
        return is_tensor_value(imports, facts, value.left, depth + 1) or is_tensor_value(
            imports, facts, value.right, depth + 1
        )
    if isinstance(value, cst.Name):
        # `x = x.cuda()`, `x = Variable(x)` keep whatever x was: judge x by its other bindings
        bindings = [
            b
            for b in facts.bindings.get(value.value, [])
            if value.value not in usage([b.value]).read
        ]
        return bool(bindings) and all(
            b.value is not value and is_tensor_value(imports, facts, b.value, depth + 1)
            for b in bindings
        )
    return False


def _moved_in_hooks(name: str, hook_bodies: Sequence[cst.BaseStatement]) -> bool:
    """The hooks move it themselves: `name[...].to(device)`, `name.cuda()` (data indexed by hand)."""
    for statement in hook_bodies:
        for call in m.findall(
            statement, m.Call(func=m.Attribute(attr=m.Name("to") | m.Name("cuda")))
        ):
            assert isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)
            if root_name(call.func.value) == name:
                return True
    return False


def buffer_names(
    imports: ImportTable,
    facts: Facts,
    candidates: Collection[str],
    state: Collection[str],
    hook_bodies: Sequence[cst.BaseStatement],
) -> list[str]:
    """Of the variables the hooks read, the constant tensors that should be buffers of the module."""
    found: list[str] = []
    for name in candidates:
        if name in state or name in facts.modules or name in found or not facts.bindings.get(name):
            continue
        if is_tensor_value(imports, facts, cst.Name(name)) and not _moved_in_hooks(
            name, hook_bodies
        ):
            found.append(name)
    return found
