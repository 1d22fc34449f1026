"""The verify probe plugin's parts, in-process: step grouping, fingerprints, seeding plan, Trainer settings."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from litgen._verify_lightning import verify_trainer_kwargs  # noqa: E402
from litgen._verify_probe import LineTee, _seed_plan  # noqa: E402
from litgen._verify_record import Recorder, VerifyStop, batch_digest, param_checksum  # noqa: E402


def test_backward_passes_belong_to_the_optimizer_step_that_follows(tmp_path: Path) -> None:
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    recorder = Recorder({"record": str(tmp_path / "r.json"), "steps": 2})
    recorder.optimizer_created = True
    recorder.optimizers.append(optimizer)
    recorder.set_batch((torch.ones(2), torch.zeros(1)))
    recorder.on_backward(torch.tensor(3.0))
    recorder.on_backward(torch.tensor(4.0))  # gradient accumulation: two backward passes, one step
    recorder.on_optimizer_step(optimizer)
    assert recorder.steps == [
        {"optimizer": 0, "losses": [3.0, 4.0], "lrs": [0.5], "batches": [recorder.batch_digest] * 2}
    ]
    recorder.on_backward(torch.tensor(5.0))
    with pytest.raises(VerifyStop) as stopped:
        recorder.on_optimizer_step(optimizer)
    assert stopped.value.code == 0  # the program ends as if it called sys.exit(0)
    written = json.loads((tmp_path / "r.json").read_text())
    assert written["stopped"] and len(written["steps"]) == 2 and len(written["params"]) == 2


def test_without_an_optimizer_each_backward_is_a_step_and_the_next_one_stops(
    tmp_path: Path,
) -> None:
    recorder = Recorder({"record": str(tmp_path / "r.json"), "steps": 2})
    recorder.on_backward(torch.tensor(1.0))
    recorder.on_backward(torch.tensor(2.0))
    with pytest.raises(VerifyStop):
        # stops before the third: two hand-written updates happened
        recorder.on_backward(torch.tensor(3.0))
    assert [step["losses"] for step in recorder.steps] == [[1.0], [2.0]]
    assert recorder.as_json()["step_unit"] == "backward"


def test_batch_digest_tells_order_values_and_dtype_apart() -> None:
    x = torch.arange(6.0).reshape(3, 2)
    assert batch_digest((x, torch.tensor([0, 1, 2]))) == batch_digest(
        (x.clone(), torch.tensor([0, 1, 2]))
    )
    assert batch_digest((x, torch.tensor([0, 1, 2]))) != batch_digest(
        (x.flip(0), torch.tensor([0, 1, 2]))
    )
    assert batch_digest(x) != batch_digest(x.double())
    assert batch_digest({"a": x, "b": [x]}) != batch_digest({"b": [x], "a": x})
    assert batch_digest(x.to(torch.bfloat16)) == batch_digest(x.to(torch.bfloat16))


def test_param_checksum_is_equal_for_equal_values_and_sensitive_to_position() -> None:
    w = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert param_checksum(w) == param_checksum(w.clone())
    swapped = param_checksum(w.flip(1))
    assert (
        swapped["norm"] == param_checksum(w)["norm"]
        and swapped["probe"] != param_checksum(w)["probe"]
    )


def test_the_seed_plan_lists_what_the_conversion_seeded_with_each_torch_seed(
    tmp_path: Path,
) -> None:
    converted = tmp_path / "converted.json"
    seeds = [
        {"generator": "random", "seed": 1},
        {"generator": "numpy", "seed": 1},
        {"generator": "torch", "seed": 1},
        {"generator": "torch", "seed": 2},
    ]
    converted.write_text(json.dumps({"seeds": seeds, "seed_workers": True}))
    assert _seed_plan(str(converted)) == ([["numpy", "random"], []], True)
    assert _seed_plan(str(tmp_path / "missing.json")) == ([], False)
    assert _seed_plan(None) == ([], False)


def test_line_tee_passes_text_through_and_records_complete_lines() -> None:
    stream, seen = io.StringIO(), []
    tee = LineTee(stream, seen.append)
    tee.write("a 1\nb")
    tee.write(" 2\n10%\r50%\r100%\nlast")
    tee.flush_partial()
    assert stream.getvalue() == "a 1\nb 2\n10%\r50%\r100%\nlast"
    assert seen == ["a 1", "b 2", "100%", "last"]
    assert tee.getvalue() == stream.getvalue()  # everything else is the real stream's


def test_verify_runs_the_programs_own_trainer_settings_on_cpu_processes() -> None:
    forced, notes = verify_trainer_kwargs(
        {"max_epochs": 3, "precision": "16-mixed", "strategy": "ddp"}, 1, None
    )
    assert forced["max_epochs"] == 3 and forced["precision"] == "32-true"
    assert (
        forced["accelerator"] == "cpu" and forced["devices"] == 1 and forced["strategy"] == "auto"
    )
    assert forced["enable_progress_bar"] is False and "fast_dev_run" not in forced
    assert any("16-mixed" in note for note in notes) and any("'ddp'" in note for note in notes)
    forced, notes = verify_trainer_kwargs({"strategy": "ddp", "devices": 4}, 2, 5)
    assert (
        forced["strategy"] == "ddp_fork"
        and forced["devices"] == 2
        and forced["limit_train_batches"] == 5
    )
    assert notes == ["devices=4 was verified as devices=2"]


def test_an_explicit_progress_bar_callback_is_kept() -> None:
    class TQDMProgressBar:
        pass

    forced, _ = verify_trainer_kwargs({"callbacks": [TQDMProgressBar()]}, 1, None)
    # forcing it off would make Lightning refuse the callback
    assert "enable_progress_bar" not in forced
