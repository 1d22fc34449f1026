"""A tampered conversion is caught, with the right diagnosis (slow: runs torch and Lightning)."""

from __future__ import annotations

from pathlib import Path

import pytest

from litgen.verify import VerifyOptions, VerifyReport, verify_pairs
from litgen.verify.compare import DATA_ORDER, DDP_LINE, DDP_METRIC, LOSS, LR, PRINTED
from tests.convert.helpers import FIXTURES
from tests.goldens import expected_text

CLASSIFIER = Path(__file__).resolve().parents[1] / "fixtures" / "verify" / "classifier"
NOISE = "        x = x + 0.1 * torch.randn_like(x)  # augmentation in raw units\n"
NORMALISE = "        x = (x - self.mean) / self.std\n"
# (original, converted): a convert fixture's folder as the converted side stands for its golden.
CLASSIFIER_PAIR = (CLASSIFIER / "original.py", CLASSIFIER / "converted.py")
QUICKSTART_PAIR = (FIXTURES / "quickstart" / "input.py", FIXTURES / "quickstart")
GAN_PAIR = (FIXTURES / "gan_two_optimizers" / "input.py", FIXTURES / "gan_two_optimizers")
# name: (original, converted, [(text, replacement), ...])
TAMPERINGS: dict[str, tuple[Path, Path, list[tuple[str, str]]]] = {
    "classifier_lr": (*CLASSIFIER_PAIR, [("lr=args.lr)", "lr=args.lr * 2)")]),
    "quickstart_lr": (*QUICKSTART_PAIR, [("lr=1e-3", "lr=2e-3")]),
    "classifier_swap": (*CLASSIFIER_PAIR, [(NOISE + NORMALISE, NORMALISE + NOISE)]),
    "classifier_shuffle": (*CLASSIFIER_PAIR, [("shuffle=True", "shuffle=False")]),
    "gan_shuffle": (*GAN_PAIR, [("shuffle=True", "shuffle=False")]),
    "quickstart_no_eval": (
        *QUICKSTART_PAIR,
        [
            (
                "trainer.fit(lit_model, train_dataloader, test_dataloader)",
                "trainer.fit(lit_model, train_dataloader)",
            )
        ],
    ),
    "classifier_no_eval": (
        *CLASSIFIER_PAIR,
        [
            (
                "trainer.fit(lit_model, train_loader, val_loader)",
                "trainer.fit(lit_model, train_loader)",
            )
        ],
    ),
    "classifier_per_process": (
        *CLASSIFIER_PAIR,
        [
            (
                'self.trainer.strategy.reduce(self.val_sums, reduce_op="sum").tolist()',
                "self.val_sums.tolist()",
            )
        ],
    ),
}


def _tampered(name: str, folder: Path) -> tuple[Path, Path]:
    original, converted, edits = TAMPERINGS[name]
    text = expected_text(converted) if converted.is_dir() else converted.read_text(encoding="utf-8")
    for old, new in edits:
        assert text.count(old) == 1, f"{name}: {old!r} is not in {converted} exactly once"
        text = text.replace(old, new)
    tampered = folder / f"{name}.py"
    tampered.write_text(text, encoding="utf-8")
    return original, tampered


def _verify(names: list[str], folder: Path, **options: object) -> dict[str, VerifyReport]:
    pairs = [_tampered(name, folder) for name in names]
    reports = verify_pairs(pairs, VerifyOptions(timeout=240, **options))  # type: ignore[arg-type]
    return dict(zip(names, reports, strict=True))


@pytest.fixture(scope="module")
def five_steps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, VerifyReport]:
    names = [
        "classifier_lr",
        "quickstart_lr",
        "classifier_swap",
        "classifier_shuffle",
        "gan_shuffle",
    ]
    return _verify(names, tmp_path_factory.mktemp("tampered"), steps=5)


def _first(report: VerifyReport) -> tuple[str, int | None]:
    first = report.first_difference
    assert first is not None, "\n".join(report.text_lines())
    return first.kind, first.step


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "first", "diagnosis"),
    [
        ("classifier_lr", (LR, 1), "DIVERGE at step 1: a different learning rate"),
        ("quickstart_lr", (LR, 1), "DIVERGE at step 1: a different learning rate"),
        ("classifier_shuffle", (DATA_ORDER, 1), "different data order"),
        ("gan_shuffle", (DATA_ORDER, 1), "different data order"),
        ("classifier_swap", (LOSS, 1), "different computation"),
    ],
)
def test_a_tampering_is_caught_at_its_first_step_with_its_cause(
    name: str, first: tuple[str, int], diagnosis: str, five_steps: dict[str, VerifyReport]
) -> None:
    report = five_steps[name]
    assert _first(report) == first
    assert diagnosis in report.verdict()


@pytest.mark.slow
def test_swapped_statements_are_a_different_computation_on_the_same_batch(
    five_steps: dict[str, VerifyReport],
) -> None:
    assert five_steps["classifier_swap"].rows[0].batch == "same"


@pytest.mark.slow
def test_a_dropped_evaluation_phase_is_caught(tmp_path: Path) -> None:
    reports = _verify(["quickstart_no_eval", "classifier_no_eval"], tmp_path, steps=None)
    quickstart = reports["quickstart_no_eval"]
    assert _first(quickstart) == (PRINTED, None)
    assert "never printed 'Test Error:'" in quickstart.verdict()
    # Without its validation loader the classifier also shuffles differently from epoch 2 on:
    # creating the loader's iterator draws from the global RNG. Both are named; the earlier one
    # comes first.
    classifier = reports["classifier_no_eval"]
    assert _first(classifier) == (DATA_ORDER, 5)
    assert any(
        d.kind == PRINTED and "epoch 0: val_loss" in d.detail for d in classifier.differences
    )


@pytest.mark.slow
def test_a_per_process_metric_is_caught_with_two_processes(tmp_path: Path) -> None:
    report = _verify(["classifier_per_process"], tmp_path, steps=3, devices=2)[
        "classifier_per_process"
    ]
    kinds = {difference.kind for difference in report.differences}
    assert kinds == {DDP_METRIC, DDP_LINE}, "\n".join(report.text_lines())
    assert (
        "with 2 processes" in report.verdict()
        and "1 process evaluating the same weights" in report.verdict()
    )
    assert report.rows and all(not row.differences for row in report.rows)  # 1 process still agrees
