"""The N-process pass: sums added up across processes before use, batch counts made global, rank-zero prints."""

from __future__ import annotations

import libcst as cst

from litgen.convert.scale import GATHER_NOTE, HELPER, helper_method, make_process_correct


def _bodies(**hooks: str) -> dict[str, list[cst.BaseStatement]]:
    return {name: list(cst.parse_module(text).body) for name, text in hooks.items()}


def _code(body: list[cst.BaseStatement]) -> str:
    return cst.Module(body=body).code


VALIDATION = dict(
    on_validation_epoch_start="self.total, self.correct = 0.0, 0\nself.batches = len(self.trainer.val_dataloaders)\n",
    validation_step="self.total += loss.item()\nself.correct += hits\n",
    on_validation_epoch_end='print(f"{self.total / self.batches} {self.correct}")\n',
)


def test_sums_read_at_the_end_of_a_pass_are_added_up_first_in_step_order() -> None:
    scaled = make_process_correct(_bodies(**VALIDATION), set(), print_shadowed=False)
    end = _code(scaled.bodies["on_validation_epoch_end"])
    assert end.index(f"self.total = self.{HELPER}(self.total)") < end.index(
        f"self.correct = self.{HELPER}(self.correct)"
    )
    assert end.rstrip().endswith('self.print(f"{self.total / self.batches} {self.correct}")')
    assert scaled.uses_helper


def test_batch_counts_of_the_pass_loader_become_global_but_dataset_lengths_stay() -> None:
    hooks = dict(VALIDATION)
    hooks["on_validation_epoch_start"] += "self.size = len(self.trainer.val_dataloaders.dataset)\n"
    start = _code(
        make_process_correct(_bodies(**hooks), set(), False).bodies["on_validation_epoch_start"]
    )
    assert f"self.batches = self.{HELPER}(len(self.trainer.val_dataloaders))" in start
    assert "self.size = len(self.trainer.val_dataloaders.dataset)" in start


def test_a_count_the_step_reads_stays_per_process() -> None:
    hooks = dict(
        on_train_epoch_start="self.size = len(self.trainer.train_dataloader)\n",
        training_step='print(f"{batch_idx}/{self.size}")\n',
    )
    scaled = make_process_correct(_bodies(**hooks), set(), False)
    assert (
        _code(scaled.bodies["on_train_epoch_start"])
        == "self.size = len(self.trainer.train_dataloader)\n"
    )
    assert not scaled.uses_helper


def test_a_sum_never_reset_per_pass_is_not_added_up_in_place() -> None:
    hooks = dict(training_step="self.seen += 1\n", on_train_epoch_end="print(self.seen)\n")
    scaled = make_process_correct(_bodies(**hooks), set(), False)
    assert _code(scaled.bodies["on_train_epoch_end"]) == "self.print(self.seen)\n"
    assert not scaled.uses_helper


def test_a_sum_read_after_the_run_is_added_up_in_an_end_hook_it_creates() -> None:
    hooks = dict(on_test_epoch_start="self.hits = 0\n", test_step="self.hits += 1\n")
    scaled = make_process_correct(_bodies(**hooks), {"hits"}, False)
    assert (
        _code(scaled.bodies["on_test_epoch_end"])
        .strip()
        .endswith(f"self.hits = self.{HELPER}(self.hits)")
    )


def test_collected_lists_get_a_review_note_instead_of_a_silent_per_process_result() -> None:
    hooks = dict(
        on_validation_epoch_start="self.preds = []\n",
        validation_step="self.preds.append(out)\n",
        on_validation_epoch_end="score = metric(self.preds)\n",
    )
    scaled = make_process_correct(_bodies(**hooks), set(), False)
    assert scaled.notes["on_validation_epoch_end"] == (GATHER_NOTE.format(name="preds"),)


def test_no_op_without_sums_and_a_rebound_print_is_left_alone() -> None:
    hooks = dict(training_step="loss = f(batch)\nprint(loss)\n")
    scaled = make_process_correct(_bodies(**hooks), set(), print_shadowed=True)
    assert _code(scaled.bodies["training_step"]) == "loss = f(batch)\nprint(loss)\n"
    assert not scaled.uses_helper and not scaled.notes


def test_the_helper_keeps_number_types_and_uses_the_script_torch_alias() -> None:
    body = _code(helper_method("th"))
    assert "th.float64" in body and "type(value)(" in body and "import torch" not in body
    assert "import torch" in _code(helper_method(None))


def test_a_batch_count_inside_an_accumulated_share_is_made_global() -> None:
    hooks = dict(
        on_train_epoch_start="self.mean_loss = 0.0\n",
        training_step="self.mean_loss += loss.item() / len(self.trainer.train_dataloader)\nn = "
        "len(self.trainer.train_dataloader)\n",
        on_train_epoch_end="print(self.mean_loss)\n",
    )
    step = _code(make_process_correct(_bodies(**hooks), set(), False).bodies["training_step"])
    assert (
        f"self.mean_loss += loss.item() / self.{HELPER}(len(self.trainer.train_dataloader))" in step
    )
    # not an accumulated sum: stays per process
    assert "n = len(self.trainer.train_dataloader)" in step


def test_torch_save_in_a_hook_runs_on_rank_zero_unless_the_script_already_checks_the_rank() -> None:
    hooks = dict(
        on_validation_epoch_end="if acc > best:\n    torch.save(state, 'best.pt')\nif self.local_rank == 0:\n    "
        "torch.save(state, 'last.pt')\n",
    )
    end = _code(
        make_process_correct(_bodies(**hooks), set(), False, "torch").bodies[
            "on_validation_epoch_end"
        ]
    )
    assert (
        "if acc > best:\n    if self.trainer.is_global_zero:\n        torch.save(state, 'best.pt')\n"
        in end
    )
    assert "if self.local_rank == 0:\n    torch.save(state, 'last.pt')\n" in end
