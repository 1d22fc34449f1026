"""Shared helpers for the convert tests: fixture discovery and a ready-made conversion context."""

from __future__ import annotations

from pathlib import Path

import libcst as cst

from litgen.convert.context import Ctx
from litgen.convert.facts import collect_facts
from litgen.convert.names import ImportTable
from litgen.convert.script import Script, Tree
from litgen.convert.structure import ShapeFinder
from tests.goldens import GOLDEN, expected_text

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "convert"

TEMPLATE = """\
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

model = nn.Linear(2, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
scaler = torch.amp.GradScaler("cuda")
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1)
plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer)
loader = DataLoader(TensorDataset(torch.randn(4, 2), torch.randn(4, 2)), batch_size=2)
{extra}
for epoch in range(2):
    for x, y in loader:
        loss = (model(x) - y).pow(2).mean()
        loss.backward()
        optimizer.step()
"""


def fixture_cases(marker: str = GOLDEN) -> list[str]:
    """The convert fixtures holding `marker`: by default the golden conversions."""
    return sorted(p.name for p in FIXTURES.iterdir() if (p / marker).exists())


def expected(case: str) -> str:
    """What converting the case's input.py must give (its golden diff applied to the input)."""
    return expected_text(FIXTURES / case)


def make_ctx(extra: str = "") -> Ctx:
    """A conversion context for a small script (model, optimizer, device, scaler, schedulers, loader)."""
    source = TEMPLATE.format(extra=extra)
    module = cst.parse_module(source)
    tree = Tree.walk(module)
    script = Script.build(source, "snippet.py", module, ImportTable(module, tree.nodes), tree)
    shape = ShapeFinder(script).find()
    return Ctx(script, collect_facts(script, shape))


def statements(source: str) -> list[cst.BaseStatement]:
    return list(cst.parse_module(source).body)


def render(nodes: list[cst.BaseStatement]) -> str:
    return cst.Module(body=nodes).code if nodes else ""


def clean_snippet(
    ctx: Ctx, source: str, mode: str = "auto", batch: tuple[str, ...] = ("x", "y")
) -> str:
    """Run the cleaner (what Lightning now does itself is removed) over a few statements."""
    from litgen.convert.clean import CleanOptions, clean

    options = CleanOptions(mode, set(batch))  # type: ignore[arg-type]
    return render(clean(ctx, statements(source), options))


def converted(source: str) -> str:
    from litgen.convert import convert_source

    return convert_source(source, "script.py").converted


def loop_script(batch_body: str, setup: str = "", epoch_tail: str = "") -> str:
    """A minimal training script with the given batch-loop body (8-space indented lines)."""
    return (
        "import torch\nimport torch.nn as nn\nfrom torch.utils.data import DataLoader, TensorDataset\n"
        "loader = DataLoader(TensorDataset(torch.randn(8, 2), torch.randn(8, 1)), batch_size=4)\n"
        "model = nn.Linear(2, 1)\noptimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        f"{setup}"
        "for epoch in range(2):\n    for x, y in loader:\n"
        f"{batch_body}"
        f"{epoch_tail}"
    )
