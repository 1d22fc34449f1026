"""The language model's own tests: the warm-up + cosine schedule, and seeded text from the trained checkpoint."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from lightning.pytorch.cli import LightningCLI

from {{ package_name }}.model import CharTransformer, warmup_cosine

RunCLI = Callable[..., LightningCLI]


def test_learning_rate_warms_up_then_decays() -> None:
    multiplier = warmup_cosine(total_steps=100, warmup_fraction=0.1, min_ratio=0.1)
    values = [multiplier(step) for step in range(100)]
    assert values[0] == pytest.approx(0.1) and values[9] == pytest.approx(1.0)
    assert all(a < b for a, b in zip(values[:10], values[1:10]))  # linear warm-up
    assert all(a >= b for a, b in zip(values[10:], values[11:]))  # then only decays
    assert values[-1] == pytest.approx(0.1, abs=1e-3) and multiplier(500) == pytest.approx(0.1)


def test_predict_continues_prompts_with_the_trained_checkpoint(two_epoch_checkpoint: Path, run_cli: RunCLI) -> None:
    cli = run_cli("predict", f"--ckpt_path={two_epoch_checkpoint}", "--model.max_new_chars=50")  # short: a quicker test
    with open("predictions/samples-rank0.jsonl") as file:
        samples = sorted((json.loads(line) for line in file), key=lambda sample: sample["index"])
    prompts = list(cli.datamodule.hparams.prompts)
    assert [sample["prompt"] for sample in samples] == prompts
    # The same seeded sampling, redone with the checkpoint's weights under the run's precision, gives
    # the same text: predict loaded the trained weights, and generation is reproducible.
    model = CharTransformer.load_from_checkpoint(two_epoch_checkpoint, map_location="cpu").eval()
    settings = cli.model  # the predict run's generation settings (max_new_chars from the command line)
    assert settings.max_new_chars == 50
    for sample in samples:
        assert sample["text"].startswith(sample["prompt"])
        assert len(sample["text"]) == len(sample["prompt"]) + settings.max_new_chars
        generator = torch.Generator().manual_seed(settings.generation_seed + sample["index"])
        prompt = model.tokenizer.encode(sample["prompt"]).unsqueeze(0)
        with cli.trainer.precision_plugin.forward_context():
            ids = model.generate(prompt, settings.max_new_chars, settings.temperature, generator)
        assert model.tokenizer.decode(ids[0]) == sample["text"]
