"""configure_optimizers builds the optimizers and schedulers from the script's expressions, with hparams."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.convert.helpers import converted, loop_script

STEP = (
    "        optimizer.zero_grad()\n        loss = ((model(x) - y) ** 2).mean()\n        "
    "loss.backward()\n        optimizer.step()\n"
)


def _with_optimizer(optimizer: str, setup: str = "", tail: str = "") -> str:
    source = loop_script(STEP, setup=setup) + tail
    return source.replace(
        "optimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n", optimizer + "\n"
    )


def _notes(out: str) -> str:
    """The `# litgen:` review comments of a conversion, as one line of text."""
    lines = [
        line.strip().lstrip("#").strip()
        for line in out.splitlines()
        if line.strip().startswith("#")
    ]
    return " ".join(line.removeprefix("litgen:").strip() for line in lines)


def test_a_literal_optimizer_is_built_in_configure_optimizers() -> None:
    out = converted(_with_optimizer("optimizer = torch.optim.SGD(model.parameters(), lr=0.1)"))
    assert (
        "    def configure_optimizers(self):\n        return torch.optim.SGD(self.model.parameters(), lr=0.1)\n"
        in out
    )
    assert "def __init__(self, model):" in out and "save_hyperparameters" not in out
    # the script's own object is gone
    assert "optimizer = torch.optim.SGD" not in out.split("class ")[0]


def test_scalar_variables_and_argparse_options_become_saved_hyperparameters() -> None:
    setup = (
        "import argparse\nparser = argparse.ArgumentParser()\nparser.add_argument('--lr', type=float, default=0.1)\n"
        "args = parser.parse_args()\nMOMENTUM = 0.9\n"
    )
    out = converted(
        _with_optimizer(
            "optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=MOMENTUM)", setup
        )
    )
    assert "def __init__(self, model, lr, momentum):" in out
    assert 'self.save_hyperparameters(ignore=["model"])' in out
    assert (
        "torch.optim.SGD(self.model.parameters(), lr=self.hparams.lr, momentum=self.hparams.momentum)"
        in out
    )
    assert "LitModel(model, lr=args.lr, momentum=MOMENTUM)" in out


def test_epochs_times_batches_becomes_lightnings_step_count() -> None:
    setup = "scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1.0, total_steps=2 * len(loader))\n"
    out = converted(loop_script(STEP + "        scheduler.step()\n", setup=setup))
    assert (
        "OneCycleLR(optimizer, max_lr=1.0, total_steps=self.trainer.estimated_stepping_batches)"
        in out
    )


def test_an_optimizer_used_after_training_is_handed_over_with_a_note() -> None:
    tail = "torch.save(optimizer.state_dict(), 'opt.pt')\n"
    out = converted(
        _with_optimizer("optimizer = torch.optim.SGD(model.parameters(), lr=0.1)", tail=tail)
    )
    assert "def __init__(self, model, optimizer):" in out
    assert (
        "the module is handed the optimizer the script built: `optimizer` is also used "
        "outside the training loop (line 13)" in _notes(out)
    )


def test_an_optimizer_built_from_a_computed_list_is_handed_over_with_a_note() -> None:
    setup = "params = [p for p in model.parameters() if p.requires_grad]\n"
    out = converted(_with_optimizer("optimizer = torch.optim.SGD(params, lr=0.1)", setup))
    assert (
        "`optimizer` is built from `params`, which is neither a model of the module nor a number"
        in _notes(out)
    )
    assert "        return self.optimizer\n" in out


SCRIPT = """\
import argparse
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.05)
args = parser.parse_args()
torch.manual_seed(0)
loader = DataLoader(TensorDataset(torch.randn(16, 3), torch.randn(16, 1)), batch_size=8)
model = nn.Linear(3, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
for epoch in range(2):
    for x, y in loader:
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
"""

RESTORE = """
import glob, sys, torch.nn as nn
sys.argv = [sys.argv[0], "--lr", "0.2"]
exec(compile(open("converted.py").read(), "converted.py", "exec"))
path = glob.glob("lightning_logs/*/checkpoints/*.ckpt")[0]
restored = LitModel.load_from_checkpoint(path, model=nn.Linear(3, 1))
assert restored.hparams.lr == 0.2, restored.hparams
assert all((a == b).all() for a, b in zip(restored.parameters(), lit_model.parameters()))
print("restored", restored.configure_optimizers())
"""


@pytest.mark.slow
def test_load_from_checkpoint_rebuilds_the_module_from_its_hyperparameters(tmp_path: Path) -> None:
    out = converted(SCRIPT)
    assert "class LitModel(" in out and "save_hyperparameters" in out
    (tmp_path / "converted.py").write_text(out, encoding="utf-8")
    (tmp_path / "restore.py").write_text(RESTORE, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "restore.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "restored SGD" in done.stdout and "lr: 0.2" in done.stdout


ARGS = (
    "import argparse\nparser = argparse.ArgumentParser()\nparser.add_argument('--log-interval', type=int, default=2)\n"
    "args = parser.parse_args()\n"
)


def test_options_the_hooks_read_become_hyperparameters_instead_of_the_whole_namespace() -> None:
    out = converted(
        loop_script(
            STEP + "        if epoch % args.log_interval == 0:\n            print(loss.item())\n",
            setup=ARGS,
        )
    )
    assert "def __init__(self, model, log_interval):" in out and "self.args" not in out
    assert "if self.current_epoch % self.hparams.log_interval == 0:" in out
    assert "LitModel(model, log_interval=args.log_interval)" in out


def test_a_namespace_the_hooks_use_whole_stays_a_constructor_argument() -> None:
    out = converted(
        loop_script(STEP + "        print(vars(args), args.log_interval)\n", setup=ARGS)
    )
    assert (
        "def __init__(self, model):" in out and "self.print(vars(args), args.log_interval)" in out
    )


def test_the_scripts_own_optimizer_and_scheduler_go_when_the_module_builds_them_in_an_entry_function() -> (
    None
):
    source = (
        "import torch\nimport torch.nn as nn\n\n\ndef main():\n    model = nn.Linear(2, 1)\n"
        "    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1)\n    data = torch.randn(4, 2)\n"
        "    for epoch in range(2):\n        optimizer.zero_grad()\n        model(data).sum().backward()\n"
        "        optimizer.step()\n        scheduler.step()\n\n\nmain()\n"
    )
    out = converted(source)
    entry = out.split("def main():", 1)[1]
    assert "optimizer =" not in entry and "scheduler =" not in entry  # no dead copies left behind
    assert "        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1)\n" in out


def test_a_scheduler_stepped_by_hand_under_manual_optimization_keeps_the_scripts_objects() -> None:
    setup = (
        "netB = nn.Linear(2, 1)\nopt_b = torch.optim.SGD(netB.parameters(), lr=0.1)\nsched = "
        "torch.optim.lr_scheduler.StepLR(optimizer, 1)\n"
    )
    step = (
        "        optimizer.zero_grad()\n        ((model(x) - y) ** 2).mean().backward()\n        optimizer.step()\n"
        "        opt_b.zero_grad()\n        ((netB(x) - y) ** 2).mean().backward()\n       "
        " opt_b.step()\n        sched.step()\n"
    )
    out = converted(loop_script(step, setup=setup))
    assert "self.automatic_optimization = False" in out
    assert "the scheduler `sched` is stepped by the script's own code" in _notes(out)
    assert "return [self.optimizer, self.opt_b]" in out
