"""Mixed precision: autocast blocks are unwrapped and the Trainer gets the matching precision."""

from __future__ import annotations

from tests.convert.helpers import converted, loop_script


def _amp(autocast: str, setup: str = "") -> str:
    return converted(
        loop_script(
            "        optimizer.zero_grad()\n"
            f"        with {autocast}:\n            loss = ((model(x) - y) ** 2).mean()\n"
            "        scaler.scale(loss).backward()\n        scaler.step(optimizer)\n        scaler.update()\n",
            setup="scaler = torch.cuda.amp.GradScaler()\n" + setup,
        )
    )


def test_cuda_autocast_is_16_mixed_when_cuda_exists() -> None:
    out = _amp("torch.cuda.amp.autocast()")
    assert 'precision="16-mixed" if torch.cuda.is_available() else "32-true"' in out
    assert "GradScaler" not in out and "autocast" not in out.split("class Lit", 1)[1]
    assert "        loss = ((self.model(x) - y) ** 2).mean()\n" in out


def test_enabled_flag_is_kept() -> None:
    out = _amp('torch.autocast("cuda", enabled=use_amp)', setup="use_amp = False\n")
    assert 'precision="16-mixed" if use_amp else "32-true"' in out


def test_bfloat16_on_cpu() -> None:
    out = _amp('torch.autocast(device_type="cpu", dtype=torch.bfloat16)')
    assert 'precision="bf16-mixed"' in out
