"""What Lightning cannot express is refused with the construct and its line, and nothing is written."""

from __future__ import annotations

import pytest

from litgen.convert import convert_source
from litgen.errors import ConversionError
from tests.convert.helpers import loop_script

STEP = (
    "        optimizer.zero_grad()\n        loss = ((model(x) - y) ** 2).mean()\n        "
    "loss.backward()\n        optimizer.step()\n"
)


def _refused(source: str) -> ConversionError:
    with pytest.raises(ConversionError) as caught:
        convert_source(source, "script.py")
    return caught.value


def test_not_a_training_script() -> None:
    error = _refused("print('hello')\n")
    assert error.reason.startswith("not a PyTorch training script") and error.line is None


def test_syntax_error_names_its_line() -> None:
    error = _refused("import torch\n\ndef broken(:\n    pass\n")
    assert error.line == 3 and error.reason.startswith("not valid Python")


def test_backward_outside_any_loop() -> None:
    error = _refused("import torch\nw = torch.zeros(2, requires_grad=True)\nw.sum().backward()\n")
    assert error.line == 3 and "not inside any loop" in error.reason


def test_conditional_training_loop() -> None:
    source = loop_script(STEP).replace(
        "    for x, y in loader:", "    if epoch > 0:\n     for x, y in loader:"
    )
    source = source.replace("\n        ", "\n         ")
    error = _refused(source)
    assert "runs inside a `if` block" in error.reason


def test_training_inside_another_training_run() -> None:
    source = "for run in range(3):\n" + "\n".join(
        "    " + line for line in loop_script(STEP).splitlines()[6:]
    )
    error = _refused(loop_script(STEP).rsplit("for epoch", 1)[0] + source + "\n")
    assert "nested inside another loop" in error.reason and error.line == 7


def test_hidden_state_carried_between_batches() -> None:
    body = (
        "        optimizer.zero_grad()\n        out, hidden = model(x, hidden)\n        "
        "out.sum().backward()\n        optimizer.step()\n"
    )
    error = _refused(loop_script(body, setup="hidden = None\n"))
    assert error.reason.startswith("truncated backpropagation through time") and error.line == 11


def test_early_return_in_a_helper() -> None:
    source = loop_script(STEP).replace(
        "for epoch in range(2):\n    for x, y in loader:\n" + STEP,
        "def train():\n    for x, y in loader:\n"
        + STEP
        + "        if loss.item() < 0.1:\n            return\n"
        "    print('done')\n\n\nfor epoch in range(2):\n    train()\n",
    )
    error = _refused(source)
    assert "returns early" in error.reason


def test_an_optimizer_built_again_in_the_epoch_loop_is_refused_at_its_line() -> None:
    source = loop_script(
        STEP,
        epoch_tail=(
            "    if epoch % 2 == 1:\n"
            "        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)\n"
        ),
    )
    error = _refused(source)
    assert (
        error.line
        == source.splitlines().index(
            "        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)"
        )
        + 1
    )
    assert "`optimizer` is built again inside the epoch loop" in error.reason


def test_generated_code_that_does_not_compile_is_an_internal_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from litgen.convert import assemble
    from litgen.errors import InternalError

    monkeypatch.setattr(
        assemble, "compile", lambda *args: compile("x = = 1", "x", "exec"), raising=False
    )
    with pytest.raises(InternalError) as caught:
        assemble._check_compiles("x = 1\n", "script.py")
    assert caught.value.exit_code == 3 and "please report this script" in caught.value.reason


def test_a_loop_that_never_steps_an_optimizer_names_the_backward_line_and_the_forms_litgen_reads() -> (
    None
):
    source = loop_script(
        "        loss = ((model(x) - y) ** 2).mean()\n        loss.backward()\n"
        "        for p in model.parameters():\n            p.data.mul_(0.9)\n"
    )
    error = _refused(source)
    assert error.line == source.splitlines().index("        loss.backward()") + 1
    assert (
        "never steps an optimizer" in error.reason and "p.data.add_(-lr * p.grad)" in error.reason
    )


def test_an_optimizer_returned_by_a_helper_is_refused_at_the_line_that_receives_it() -> None:
    source = (
        "import torch\nfrom torch.utils.data import DataLoader, TensorDataset\n\n\n"
        "def build():\n    model = torch.nn.Linear(2, 1)\n"
        "    return model, torch.optim.SGD(model.parameters(), lr=0.1)\n\n\n"
        "model, optimizer = build()\n"
        "loader = DataLoader(TensorDataset(torch.randn(8, 2), torch.randn(8, 1)), batch_size=4)\n"
        "for epoch in range(2):\n    for x, y in loader:\n" + STEP
    )
    error = _refused(source)
    assert error.line == source.splitlines().index("model, optimizer = build()") + 1
    assert "not one returned by another function" in error.reason


def test_one_batch_loop_for_several_phases_is_refused_with_what_to_write_instead() -> None:
    source = (
        loop_script(STEP)
        .replace(
            "    for x, y in loader:\n",
            "    for phase in ['train', 'val']:\n        for x, y in loader:\n",
        )
        .replace("        optimizer", "            optimizer")
        .replace("        loss", "            loss")
    )
    error = _refused(source)
    assert error.line == source.splitlines().index("    for phase in ['train', 'val']:") + 1
    assert "one batch loop serves several phases" in error.reason


def test_a_helper_with_star_args_and_no_loop_stays_a_call_after_the_batch_loop() -> None:
    source = "def log(*args):\n    print(*args)\n\n\n" + loop_script(
        STEP, epoch_tail="    log('epoch', epoch, loss.item())\n"
    )
    out = convert_source(source, "script.py").converted
    assert "def log(*args):\n    print(*args)\n" in out
    assert "log('epoch', self.current_epoch, self.loss.item())" in out


def test_a_method_called_on_an_object_made_on_the_spot_converts_as_if_the_object_were_named() -> (
    None
):
    step = STEP.replace("optimizer.", "self.optimizer.").replace("model(x)", "self.model(x)")
    source = (
        "import torch\nfrom torch.utils.data import DataLoader, TensorDataset\n\n\n"
        "class Runner:\n    def __init__(self, model, loader, optimizer):\n"
        "        self.model, self.loader, self.optimizer = model, loader, optimizer\n\n"
        "    def train(self, epochs):\n        for epoch in range(epochs):\n"
        "            self.model.train()\n            for x, y in self.loader:\n"
        + "".join(f"        {line}\n" for line in step.splitlines())
        + "\n\nmodel = torch.nn.Linear(2, 1)\n"
        "loader = DataLoader(TensorDataset(torch.randn(8, 2), torch.randn(8, 1)), batch_size=4)\n"
        "Runner(model, loader, torch.optim.SGD(model.parameters(), lr=0.1)).train(2)\n"
    )
    named = source.replace(
        "Runner(model, loader, torch.optim.SGD(model.parameters(), lr=0.1)).train(2)\n",
        "runner = Runner(model, loader, torch.optim.SGD(model.parameters(), lr=0.1))\nrunner.train(2)\n",
    )
    converted = convert_source(source, "s.py").converted
    assert converted == convert_source(named, "s.py").converted
    assert "class Runner" not in converted and "L.Trainer(max_epochs=2)" in converted


def test_a_training_helper_given_the_optimizer_by_main_trains_where_main_builds_it() -> None:
    source = (
        "import torch\nfrom torch.utils.data import DataLoader, TensorDataset\n\n\n"
        "def train(model, loader, optimizer, epochs):\n    for epoch in range(epochs):\n"
        "        for x, y in loader:\n"
        + "".join(f"    {line}\n" for line in STEP.splitlines())
        + "\n\ndef main():\n    model = torch.nn.Linear(2, 1)\n"
        "    loader = DataLoader(TensorDataset(torch.randn(8, 2), torch.randn(8, 1)), batch_size=4)\n"
        "    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "    train(model, loader, optimizer, 2)\n\n\nmain()\n"
    )
    out = convert_source(source, "s.py").converted
    assert "torch.optim.SGD(self.model.parameters(), lr=0.1)" in out
    assert "    trainer = L.Trainer(max_epochs=2)\n    trainer.fit(lit_model, loader)\n" in out
