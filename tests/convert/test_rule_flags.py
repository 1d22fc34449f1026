"""Command-line flags keep working: a dry-run break is fast_dev_run, a no-GPU flag forces the CPU."""

from __future__ import annotations

import libcst as cst
import pytest

from litgen.convert.rules.flags import is_dry_run_test, only_breaks
from tests.convert.helpers import converted, loop_script

STEP = (
    "        optimizer.zero_grad()\n        loss = ((model(x) - y) ** 2).mean()\n        "
    "loss.backward()\n        optimizer.step()\n"
)
ARGS = (
    "import argparse\nparser = argparse.ArgumentParser()\n"
    "parser.add_argument('--dry-run', action='store_true')\nparser.add_argument('--no-cuda', action='store_true')\n"
    "args = parser.parse_args()\n"
)


def test_recognizers() -> None:
    assert is_dry_run_test(cst.parse_expression("args.dry_run"))
    assert is_dry_run_test(cst.parse_expression("smoke_test"))
    assert not is_dry_run_test(cst.parse_expression("args.debug"))
    body = cst.parse_statement("if x:\n    print('stop')\n    break\n").body  # type: ignore[attr-defined]
    assert only_breaks(body)


def test_dry_run_break_becomes_conditional_fast_dev_run() -> None:
    out = converted(ARGS + loop_script(STEP + "        if args.dry_run:\n            break\n"))
    assert '**({"fast_dev_run": True} if args.dry_run else {})' in out
    assert "break" not in out


def test_trainer_never_hard_codes_forced_arguments() -> None:
    out = converted(ARGS + loop_script(STEP + "        if args.dry_run:\n            break\n"))
    trainer = out.split("L.Trainer(", 1)[1].split("\n\n", 1)[0]
    for forced in ("fast_dev_run=", "accelerator=", "devices=", "logger="):
        assert forced not in trainer
    assert '**({"accelerator": "cpu"} if args.no_cuda else {})' in trainer


def test_batch_count_breaks_become_limits() -> None:
    source = (
        "import torch\nfrom torch.utils.data import DataLoader, TensorDataset\n"
        "loader = DataLoader(TensorDataset(torch.randn(40, 2), torch.randn(40, 1)), batch_size=4)\n"
        "model = torch.nn.Linear(2, 1)\noptimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "for epoch in range(2):\n    for i, (x, y) in enumerate(loader):\n        if i >= 5:\n            break\n"
        "        optimizer.zero_grad()\n        ((model(x) - y) ** 2).mean().backward()\n        optimizer.step()\n"
        "    total = 0.0\n    with torch.no_grad():\n        for j, (x, y) in enumerate(loader):\n"
        "            total += ((model(x) - y) ** 2).mean().item()\n            if j == 2:\n                break\n"
    )
    out = converted(source)
    assert "limit_train_batches=5, limit_val_batches=3" in out
    assert "break" not in out


def _with_flags(arguments: str, setup: str = "") -> str:
    head = (
        "import argparse\nparser = argparse.ArgumentParser()\n"
        + arguments
        + "args = parser.parse_args()\n"
        + setup
    )
    body = (
        "        optimizer.zero_grad()\n        loss = ((model(x) - y) ** 2).mean()\n        "
        "loss.backward()\n        optimizer.step()\n"
    )
    return converted(loop_script(body, setup=head))


def test_an_opt_in_cuda_flag_keeps_the_cpu_unless_given() -> None:
    out = _with_flags("parser.add_argument('--cuda', action='store_true')\n")
    assert '**({"accelerator": "cpu"} if not args.cuda else {})' in out


def test_a_device_option_or_variable_decides_through_the_scripts_device() -> None:
    out = _with_flags(
        "parser.add_argument('--device', default='cpu')\n",
        "device = torch.device(args.device)\nmodel = model.to(device)\n",
    )
    assert '**({"accelerator": "cpu"} if str(device) == "cpu" else {})' in out


def test_a_gpu_index_option_is_not_a_device_flag() -> None:
    assert "accelerator" not in _with_flags("parser.add_argument('--gpu', type=int, default=0)\n")


@pytest.mark.parametrize(
    ("epochs", "max_epochs"),
    [
        ("range(1, num_epochs + 1)", "max_epochs=num_epochs"),
        ("range(start_epoch, start_epoch + 200)", "max_epochs=200"),
        ("range(3, 7)", "max_epochs=4"),
        ("range(start, stop)", "max_epochs=stop - start"),
    ],
)
def test_the_epoch_range_becomes_the_number_of_epochs(epochs: str, max_epochs: str) -> None:
    source = loop_script(STEP).replace("range(2)", epochs)
    assert f"L.Trainer({max_epochs})" in converted(source)
