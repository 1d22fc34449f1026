"""`upgrade_yaml`: Trainer flags and class paths in LightningCLI and Hydra configs, rewritten line by line."""

from __future__ import annotations

import pytest
import yaml

from litgen.errors import ConversionError
from litgen.upgrade.yaml_config import upgrade_yaml

CLI_CONFIG = """\
# LightningCLI config for the classifier
seed_everything: 42

trainer:
  gpus: 2  # two cards on the lab machine
  max_epochs: 10

  distributed_backend: ddp
  precision: 16
  replace_sampler_ddp: false
  progress_bar_refresh_rate: 5
  callbacks:
    - class_path: pytorch_lightning.callbacks.ModelCheckpoint
      init_args:
        monitor: val_loss  # lower is better
    - class_path: pytorch_lightning.callbacks.LearningRateLogger
model:
  gpus: 2
  lr: 0.1
data:
  batch_size: 32
"""

CLI_EXPECTED = """\
# LightningCLI config for the classifier
seed_everything: 42

trainer:
  accelerator: cuda  # two cards on the lab machine
  devices: 2
  max_epochs: 10

  strategy: ddp
  precision: "16-mixed"
  use_distributed_sampler: false
  callbacks:
    - class_path: lightning.pytorch.callbacks.ModelCheckpoint
      init_args:
        monitor: val_loss  # lower is better
    - class_path: lightning.pytorch.callbacks.LearningRateMonitor
    - class_path: lightning.pytorch.callbacks.TQDMProgressBar
      init_args:
        refresh_rate: 5
model:
  gpus: 2
  lr: 0.1
data:
  batch_size: 32
"""


def _trainer(text: str) -> dict:
    return yaml.safe_load(text)["trainer"]


def test_a_lightning_cli_config_is_upgraded_line_by_line() -> None:
    upgraded = upgrade_yaml(CLI_CONFIG, "config.yaml")
    assert upgraded.upgraded == CLI_EXPECTED
    assert upgraded.changed and not upgraded.notes
    assert upgraded.original == CLI_CONFIG and upgraded.path == "config.yaml"


def test_the_upgraded_config_loads_with_2x_flags_only() -> None:
    trainer = _trainer(upgrade_yaml(CLI_CONFIG, "config.yaml").upgraded)
    assert trainer["accelerator"] == "cuda" and trainer["devices"] == 2
    assert trainer["strategy"] == "ddp"
    assert trainer["precision"] == "16-mixed"
    assert trainer["use_distributed_sampler"] is False
    for removed in ("gpus", "distributed_backend", "replace_sampler_ddp"):
        assert removed not in trainer
    assert "progress_bar_refresh_rate" not in trainer
    assert trainer["callbacks"][-1] == {
        "class_path": "lightning.pytorch.callbacks.TQDMProgressBar",
        "init_args": {"refresh_rate": 5},
    }


def test_each_change_is_listed() -> None:
    changes = {c.text: c.line for c in upgrade_yaml(CLI_CONFIG, "config.yaml").changes}
    original = CLI_CONFIG.splitlines()
    for text, key in (
        ("gpus: -> accelerator='cuda', devices=2", "gpus"),
        ("distributed_backend: -> strategy='ddp'", "distributed_backend"),
        ("precision: -> precision='16-mixed'", "precision"),
        ("replace_sampler_ddp: -> use_distributed_sampler=False", "replace_sampler_ddp"),
    ):
        assert text in changes
        assert (
            original[changes[text] - 1].strip().startswith(f"{key}:")
        )  # the line in the file as it was
    assert (
        "pytorch_lightning.callbacks.LearningRateLogger -> lightning.pytorch.callbacks.LearningRateMonitor"
        in changes
    )
    assert "progress_bar_refresh_rate: -> callbacks += TQDMProgressBar(...)" in changes


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(
            "trainer:\n  gpus: 1   # the big one\n  max_epochs: 1\n",
            "trainer:\n  accelerator: cuda  # the big one\n  devices: 1\n  max_epochs: 1\n",
            id="a trailing comment stays on the first new line",
        ),
        pytest.param(
            "trainer:\r\n  gpus: 1  # one\r\n  max_epochs: 3\r\n",
            "trainer:\r\n  accelerator: cuda  # one\r\n  devices: 1\r\n  max_epochs: 3\r\n",
            id="CRLF line endings are kept",
        ),
    ],
)
def test_the_lines_around_a_rewrite_keep_their_comment_and_line_ending(
    before: str, after: str
) -> None:
    assert upgrade_yaml(before, "c.yaml").upgraded == after


@pytest.mark.parametrize("value", ["null", "0", "~"])
def test_no_gpus_means_the_cpu(value: str) -> None:
    upgraded = upgrade_yaml(f"trainer:\n  gpus: {value}\n  max_epochs: 1\n", "c.yaml")
    assert upgraded.upgraded == "trainer:\n  accelerator: cpu\n  max_epochs: 1\n"
    assert not upgraded.notes


def test_a_block_list_of_gpus_becomes_devices() -> None:
    upgraded = upgrade_yaml(
        "trainer:\n  gpus:\n    - 0\n    - 1\n  max_epochs: 3\n", "c.yaml"
    ).upgraded
    assert _trainer(upgraded) == {
        "accelerator": "cuda",
        "devices": [0, 1],
        "strategy": "ddp_spawn",  # what 1.x ran on several devices without a strategy
        "max_epochs": 3,
    }


# A config the script loads itself (no `class_path`, no `seed_everything`): a `class_path` item
# would reach `Trainer(callbacks=...)` as a dict, so the callback is left for the user.
SCRIPT_CONFIG = CLI_CONFIG.replace("seed_everything: 42\n", "").replace(
    "class_path: pytorch_lightning.callbacks.", "name: "
)


def test_a_flag_left_for_the_user_gets_one_litgen_comment_and_a_manual_note_with_its_line() -> None:
    upgraded = upgrade_yaml(SCRIPT_CONFIG, "config.yaml")
    [note] = upgraded.notes
    assert note.kind == "manual" and note.rule == "trainer"
    assert "progress_bar_refresh_rate" in note.message and "TQDMProgressBar" in note.message
    assert (
        SCRIPT_CONFIG.splitlines()[note.line - 1] == "  progress_bar_refresh_rate: 5"
    )  # the line as it was
    lines = upgraded.upgraded.splitlines()
    index = lines.index("  progress_bar_refresh_rate: 5")
    assert (
        lines[index - 2] == "  # litgen: `progress_bar_refresh_rate` was removed: add the callback"
    )


def test_a_replacement_already_set_is_not_overwritten() -> None:
    upgraded = upgrade_yaml("trainer:\n  gpus: 2\n  devices: 4\n", "c.yaml")
    assert upgraded.upgraded.endswith(
        "  gpus: 2\n  devices: 4\n"
    )  # both kept, for the user to merge
    [note] = upgraded.notes
    assert note.kind == "manual" and "devices" in note.message and note.line == 2


def test_a_hydra_trainer_config_has_its_flags_at_the_top_level() -> None:
    config = (
        "# conf/trainer/gpu.yaml\n"
        "_target_: pytorch_lightning.Trainer\n"
        "gpus: null\n"
        "max_epochs: 5\n"
        "precision: 16\n"
        "weights_summary: null\n"
    )
    upgraded = upgrade_yaml(config, "gpu.yaml")
    assert upgraded.upgraded == (
        "# conf/trainer/gpu.yaml\n"
        "_target_: lightning.pytorch.Trainer\n"
        "accelerator: cpu\n"
        "max_epochs: 5\n"
        'precision: "16-mixed"\n'
        "enable_model_summary: false\n"
    )
    assert not upgraded.notes


def test_class_paths_and_targets_move_to_the_lightning_namespace() -> None:
    config = (
        "trainer:\n"
        "  callbacks:\n"
        "    - class_path: pytorch_lightning.callbacks.EarlyStopping\n"
        "    - class_path: 'pytorch_lightning.callbacks.LearningRateLogger'\n"
        "  logger:\n"
        "    _target_: pytorch_lightning.loggers.TensorBoardLogger\n"
        "    save_dir: logs  # pytorch_lightning.loggers stays in comments\n"
        "callbacks:\n"
        "  - _target_: pytorch_lightning.callbacks.LearningRateLogger\n"
        "    logging_interval: step\n"
    )
    upgraded = upgrade_yaml(config, "c.yaml").upgraded
    assert upgraded == (
        "trainer:\n"
        "  callbacks:\n"
        "    - class_path: lightning.pytorch.callbacks.EarlyStopping\n"
        "    - class_path: 'lightning.pytorch.callbacks.LearningRateMonitor'\n"
        "  logger:\n"
        "    _target_: lightning.pytorch.loggers.TensorBoardLogger\n"
        "    save_dir: logs  # pytorch_lightning.loggers stays in comments\n"
        "callbacks:\n"
        "  - _target_: lightning.pytorch.callbacks.LearningRateMonitor\n"
        "    logging_interval: step\n"
    )


def test_comments_blank_lines_and_key_order_elsewhere_are_untouched() -> None:
    upgraded = upgrade_yaml(CLI_CONFIG, "config.yaml").upgraded
    untouched = [
        line
        for line in CLI_CONFIG.splitlines()
        if not line.strip().startswith(
            (
                "gpus:",
                "distributed_backend:",
                "precision:",
                "replace_sampler_ddp:",
                "progress_bar_refresh_rate:",
                "- class_path:",
            )
        )
    ]
    remaining = iter(upgraded.splitlines())
    assert all(
        line in remaining for line in untouched
    )  # every other line is still there, in the same order
    assert upgraded.count("\n\n") == CLI_CONFIG.count("\n\n")
    assert list(yaml.safe_load(upgraded)) == ["seed_everything", "trainer", "model", "data"]


def test_a_second_run_changes_nothing_and_does_not_repeat_the_comment() -> None:
    for config in (CLI_CONFIG, SCRIPT_CONFIG):
        once = upgrade_yaml(config, "config.yaml")
        twice = upgrade_yaml(once.upgraded, "config.yaml")
        assert twice.upgraded == once.upgraded
        assert not twice.changed
    assert twice.upgraded.count("# litgen:") == 1
    assert [(n.message, n.kind) for n in twice.notes] == [(n.message, n.kind) for n in once.notes]


def test_invalid_yaml_is_a_conversion_error_with_its_line() -> None:
    with pytest.raises(ConversionError) as raised:
        upgrade_yaml("trainer:\n  gpus: 2\n  max_epochs: : 3\n", "bad.yaml")
    assert raised.value.exit_code == 1
    assert raised.value.line == 3
    assert str(raised.value).startswith("bad.yaml:3: not valid YAML")


@pytest.mark.parametrize(
    "text",
    [
        "# data only\ndataset: mnist\nbatch_size: 64  # per device\n",
        "trainer:\n  max_epochs: 3\n  accelerator: gpu\n  devices: 2\n  precision: 32\n",
        "model:\n  class_path: lightning.pytorch.demos.BoringModel\n",
        "",
    ],
    ids=["no-trainer", "already-2x", "already-moved", "empty"],
)
def test_a_config_without_1x_flags_is_returned_unchanged(text: str) -> None:
    upgraded = upgrade_yaml(text, "c.yaml")
    assert upgraded.upgraded == text
    assert not upgraded.changed and upgraded.notes == ()


def test_keys_named_like_flags_outside_the_trainer_section_are_not_touched() -> None:
    config = (
        "model: {gpus: 2, precision: 16}\n"
        "data:\n"
        "  gpus: 2\n"
        "  distributed_backend: ddp\n"
        "trainer:\n"
        "  max_epochs: 1\n"
        "  logger:\n"
        "    init_args:\n"
        "      gpus: 2\n"
        "gpus: 2\n"
    )
    upgraded = upgrade_yaml(config, "c.yaml")
    assert upgraded.upgraded == config
    assert not upgraded.notes


def test_a_flow_style_trainer_section_is_upgraded_or_flagged() -> None:
    upgraded = upgrade_yaml("trainer: {gpus: 2, max_epochs: 3}\n", "c.yaml")
    assert upgraded.changed or upgraded.needs_hands


def test_a_flag_that_stays_as_it_is_is_not_listed_as_a_change() -> None:
    assert upgrade_yaml("trainer:\n  precision: 32\n  max_epochs: 3\n", "c.yaml").changes == ()
    once = upgrade_yaml(CLI_CONFIG, "config.yaml")
    assert upgrade_yaml(once.upgraded, "config.yaml").changes == ()


@pytest.mark.parametrize(
    "line", ["precision: 16-mixed", "precision: '16-mixed'", "precision: 32 # full"]
)
def test_a_2x_flag_value_is_left_byte_for_byte(line: str) -> None:
    text = f"trainer:\n  {line}\n  max_epochs: 3\n"
    assert upgrade_yaml(text, "c.yaml").upgraded == text


def test_flags_that_became_callbacks_start_a_callbacks_list_where_the_first_stood() -> None:
    config = (
        "seed_everything: 1\ntrainer:\n  weights_summary: full\n  accumulate_grad_batches:\n    0: 8\n    4: 4\n"
        "  max_epochs: 3\n"
    )
    upgraded = upgrade_yaml(config, "c.yaml")
    assert upgraded.upgraded == (
        "seed_everything: 1\ntrainer:\n  callbacks:\n"
        "    - class_path: lightning.pytorch.callbacks.ModelSummary\n      init_args:\n        max_depth: -1\n"
        "    - class_path: lightning.pytorch.callbacks.GradientAccumulationScheduler\n"
        "      init_args:\n        scheduling: {0: 8, 4: 4}\n"
        "  max_epochs: 3\n"
    )
    schedule = _trainer(upgraded.upgraded)["callbacks"][1]["init_args"]["scheduling"]
    assert schedule == {0: 8, 4: 4}  # epochs stay integers
    assert not upgraded.notes
    assert upgrade_yaml(upgraded.upgraded, "c.yaml").upgraded == upgraded.upgraded


def test_an_inline_callbacks_list_is_left_for_the_user() -> None:
    config = (
        "seed_everything: 1\ntrainer:\n  callbacks: [{class_path: x.Y}]\n  weights_summary: full\n"
    )
    upgraded = upgrade_yaml(config, "c.yaml")
    [note] = upgraded.notes
    assert note.kind == "manual" and "ModelSummary" in note.message and note.line == 4
    assert "  weights_summary: full\n" in upgraded.upgraded


def test_an_explicit_accelerator_wins_over_1x_device_flags_that_said_none() -> None:
    """A 1.6 defaults dump (`accelerator: auto` beside `gpus: null`) kept the GPU in 1.x: so must 2.x."""
    text = (
        "_target_: pytorch_lightning.Trainer\n"
        "accelerator: auto\ndevices: auto\ngpus: null\nnum_processes: 1\n"
        "strategy: null\nmax_steps: null\nmin_steps: null\n"
    )
    upgraded = yaml.safe_load(upgrade_yaml(text, "trainer/default.yaml").upgraded)
    assert upgraded == {
        "_target_": "lightning.pytorch.Trainer",
        "accelerator": "auto",
        "devices": "auto",
        "max_steps": -1,
        "min_steps": None,
    }


def test_without_an_accelerator_no_gpus_still_means_the_cpu() -> None:
    upgraded = upgrade_yaml("trainer:\n  gpus: null\n  max_epochs: 3\n", "c.yaml").upgraded
    assert yaml.safe_load(upgraded) == {"trainer": {"accelerator": "cpu", "max_epochs": 3}}


def test_a_1x_lightning_cli_dump_of_defaults_keeps_only_what_it_chose() -> None:
    """A 1.x `LightningCLI` config dump lists every flag at its default: those go without a note."""
    dump = (
        "trainer:\n"
        "  checkpoint_callback: null\n"
        "  num_processes: 1\n"
        "  devices: null\n"
        "  gpus: 1\n"
        "  tpu_cores: null\n"
        "  progress_bar_refresh_rate: null\n"
        "  accelerator: null\n"
        "  strategy: null\n"
        "  distributed_backend: null\n"
        "  max_epochs: 3\n"
    )
    upgraded = upgrade_yaml(dump, "config.yaml")
    assert upgraded.upgraded == "trainer:\n  accelerator: cuda\n  devices: 1\n  max_epochs: 3\n"
    assert not upgraded.notes
