"""Device handling: batch moves disappear, other moves go to self.device, model moves leave the set-up."""

from __future__ import annotations

import libcst as cst
import pytest

from litgen.convert.rules.device import is_mode_switch, move_parts, without_moves
from tests.convert.helpers import clean_snippet, converted, loop_script, make_ctx

STEP = (
    "        optimizer.zero_grad()\n        loss = ((model(x) - y) ** 2).mean()\n        "
    "loss.backward()\n        optimizer.step()\n"
)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("x, y = x.to(device), y.to(device)\nout = model(x)\n", "out = model(x)\n"),
        ("x = x.cuda()\n", ""),
        ("x = x.to(device, non_blocking=True)\n", ""),
        ("x = x.to(device).float()\n", "x = x.float()\n"),
        ("x = x.to(device, torch.float16)\n", "x = x.to(torch.float16)\n"),
        (
            "noise = torch.randn(4, 2, device=device)\n",
            "noise = torch.randn(4, 2, device={device})\n",
        ),
        ("w = weights.to(device)\n", "w = weights.to({device})\n"),
        ("w = weights.cuda()\n", "w = weights.to({device})\n"),
        ("x = x.to(torch.float32)\n", "x = x.to(torch.float32)\n"),
        ("model.train()\nout = model(x)\n", "out = model(x)\n"),
    ],
)
def test_batch_moves_and_mode_switches(before: str, after: str) -> None:
    ctx = make_ctx()  # `{device}`: the symbol that becomes `self.device` in the module
    assert clean_snippet(ctx, before) == after.format(device=ctx.symbols.device)


def test_recognizers() -> None:
    ctx = make_ctx()
    call = cst.parse_expression("x.to(device)")
    assert isinstance(call, cst.Call) and move_parts(ctx, call) is not None
    assert move_parts(ctx, cst.parse_expression("x.to(torch.float64)")) is None  # type: ignore[arg-type]
    assert (
        cst.Module([]).code_for_node(
            without_moves(ctx, cst.parse_expression("Net().to(device).cuda()"))
        )
        == "Net()"
    )
    assert is_mode_switch(ctx, cst.parse_expression("model.train(False)")) == "eval"
    assert is_mode_switch(ctx, cst.parse_expression("data.train()")) is None


def test_self_device_in_the_generated_module() -> None:
    script = loop_script(
        "        noise = torch.randn(x.size(0), 2, device=device)\n"
        "        loss = ((model(x + noise) - y) ** 2).mean()\n"
        "        optimizer.zero_grad()\n        loss.backward()\n        optimizer.step()\n",
        setup='device = torch.device("cuda" if torch.cuda.is_available() else "cpu")\nmodel = model.to(device)\n',
    )
    out = converted(script)
    assert "noise = torch.randn(x.size(0), 2, device=self.device)" in out
    assert "model = model.to(device)" not in out and "device = torch.device" not in out


def test_comments_above_a_removed_move_stay_for_the_next_statement() -> None:
    out = converted(
        loop_script(
            STEP,
            setup=(
                "# model = nn.Linear(2, 2)  (an alternative kept as a comment)\n"
                "model = model.to('cpu')\n"
                "print('ready')\n"
            ),
        )
    )
    assert "model.to(" not in out
    assert "# model = nn.Linear(2, 2)  (an alternative kept as a comment)\nprint('ready')\n" in out


def test_comments_above_a_removed_statement_in_a_function_stay_in_it() -> None:
    body = "".join(f"    {line}\n" for line in loop_script(STEP).splitlines()[3:])
    body = body.replace(
        "    model = nn.Linear(2, 1)\n",
        "    model = nn.Linear(2, 1)\n    # to the GPU when there is one\n    model.cuda()\n",
    )
    source = "\n".join(loop_script(STEP).splitlines()[:3]) + "\n\n\ndef main():\n" + body
    out = converted(source + "\n\nmain()\n")
    assert "model.cuda()" not in out
    assert "    # to the GPU when there is one\n" in out


def test_epoch_end_code_that_leaves_the_model_in_eval_mode_switches_it_back() -> None:
    """The script's next epoch began with `model.train()`; Lightning does not undo `eval()`."""
    helper = "def report():\n    model.eval()\n    print(model(torch.ones(1, 2)).item())\n\n\n"
    body = "        model.train()\n" + STEP
    out = converted(helper + loop_script(body, epoch_tail="    report()\n"))
    end = out.split("def on_train_epoch_end(self):\n", 1)[1].split("\n\n", 1)[0]
    assert end.endswith(
        "report()\n        # litgen: the script's next epoch starts in training mode; Lightning "
        "does not switch back\n        self.model.train()"
    )


def test_no_switch_back_where_the_script_never_switched_to_training() -> None:
    helper = "def report():\n    model.eval()\n\n\n"
    out = converted(helper + loop_script(STEP, epoch_tail="    report()\n"))
    assert "self.model.train()" not in out
