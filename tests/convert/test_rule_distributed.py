"""Distributed plumbing is removed in favour of strategy="ddp"; rank checks use Lightning's rank."""

from __future__ import annotations

import libcst as cst

from litgen.convert.rules.distributed import sampler_shuffle, spawned, unwrap_parallel
from tests.convert.helpers import FIXTURES, converted, make_ctx


def test_recognizers() -> None:
    ctx = make_ctx(
        "from torch.nn.parallel import DistributedDataParallel as DDP\nimport torch.multiprocessing as mp\n"
    )
    wrapped = cst.parse_expression("DDP(model, device_ids=[rank])")
    assert cst.Module([]).code_for_node(unwrap_parallel(ctx, wrapped)) == "model"
    target = spawned(ctx, cst.parse_expression("mp.spawn(main, args=(4, cfg), nprocs=4)"))
    assert target is not None and target[0] == "main" and len(target[1]) == 2
    shuffle = sampler_shuffle(
        ctx,
        cst.parse_expression("torch.utils.data.distributed.DistributedSampler(ds, shuffle=False)"),
    )
    assert isinstance(shuffle, cst.Name) and shuffle.value == "False"


def test_fixture_drops_every_piece_of_plumbing() -> None:
    out = converted((FIXTURES / "ddp_spawn" / "input.py").read_text(encoding="utf-8"))
    for gone in (
        "init_process_group",
        "destroy_process_group",
        "DistributedSampler(",
        "DDP(",
        "mp.spawn",
        "set_epoch",
    ):
        assert gone not in out.split("import lightning as L", 1)[1], gone
    assert 'strategy="ddp"' in out
    assert "if self.global_rank == 0:" in out and "if trainer.global_rank == 0:" in out
    assert "loader = DataLoader(dataset, batch_size=8, shuffle=True)" in out
    assert "train(0, world_size, 2)" in out


def test_data_parallel_wrapper_is_removed() -> None:
    source = (
        "import torch\nimport torch.nn as nn\n"
        "model = nn.Linear(2, 1)\nmodel = nn.DataParallel(model)\n"
        "optimizer = torch.optim.SGD(model.parameters(), lr=0.1)\ndata = torch.randn(4, 2)\n"
        "for epoch in range(2):\n    optimizer.zero_grad()\n    model(data).sum().backward()\n    optimizer.step()\n"
    )
    out = converted(source)
    code = "\n".join(line for line in out.splitlines() if not line.startswith("#"))
    # one process per device: no forced DDP
    assert "DataParallel" not in code and "strategy=" not in code
    assert "# litgen: removed nn.DataParallel (one process driving every GPU)" in out


def test_picking_a_gpu_alone_is_not_distributed_training() -> None:
    source = (
        "import torch\nimport torch.nn as nn\ntorch.cuda.set_device(0)\n"
        "model = nn.Linear(2, 1)\noptimizer = torch.optim.SGD(model.parameters(), lr=0.1)\ndata = torch.randn(4, 2)\n"
        "for epoch in range(2):\n    optimizer.zero_grad()\n    model(data).sum().backward()\n    optimizer.step()\n"
    )
    assert "strategy=" not in converted(source)
