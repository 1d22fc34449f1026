"""Shapes found in public 1.x packages (NeMo, anomalib, ...) that once broke the upgrade."""

from __future__ import annotations

from pathlib import Path

import pytest

from litgen.upgrade import files
from litgen.upgrade.engine import upgrade_source
from litgen.upgrade.files import upgrade_paths

BOTH_HOOKS = """\
import pytorch_lightning as pl


class Net(pl.LightningModule):
    def on_validation_epoch_end(self):
        self.results.append("on_validation_epoch_end")

    def validation_step(self, batch, batch_idx, dataloader_idx=0):
        return {"loss": self(batch)}

    def validation_epoch_end(self, outputs):
        self.results.append(len(outputs))
"""


def test_both_epoch_hooks_and_a_default_dataloader_idx_merge_in_1x_order() -> None:
    """NeMo's megatron_finetune_model.py made litgen crash (KeyError)."""
    upgraded = upgrade_source(BOTH_HOOKS, "net.py")
    compile(upgraded.upgraded, "net.py", "exec")
    hook = upgraded.upgraded.split("def on_validation_epoch_end(self):\n")[1]
    assert hook.index("self.results.append(len(outputs))") < hook.index(
        'self.results.append("on_validation_epoch_end")'
    )
    assert "validation_epoch_end(self, outputs)" not in upgraded.upgraded
    assert [n.kind for n in upgraded.notes] == ["review"]  # one loader unless the Trainer gets more


def test_a_litgen_bug_on_one_file_is_reported_for_it_and_the_others_still_upgrade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = files.upgrade_source

    def broken_on_bad(source: str, filename: str, project: object) -> object:
        if filename.endswith("bad.py"):
            raise KeyError("boom")
        return real(source, filename, project)  # type: ignore[arg-type]

    monkeypatch.setattr(files, "upgrade_source", broken_on_bad)
    (tmp_path / "bad.py").write_text("import pytorch_lightning\n", encoding="utf-8")
    (tmp_path / "good.py").write_text("import pytorch_lightning\n", encoding="utf-8")
    report = upgrade_paths([tmp_path])
    by_name = {result.path.name: result for result in report.files}
    assert "KeyError" in str(by_name["bad.py"].error)
    assert (tmp_path / "bad.py").read_text(encoding="utf-8") == "import pytorch_lightning\n"
    assert (tmp_path / "good.py").read_text(encoding="utf-8") == "import lightning.pytorch\n"


BASE_AND_SUBCLASS = """\
import pytorch_lightning as pl


class Base(pl.LightningModule):
    def validation_step(self, batch, batch_idx):
        raise NotImplementedError

    def validation_step_end(self, outputs):
        outputs["post"] = outputs["scores"] * 10
        return outputs

    def validation_epoch_end(self, outputs):
        self.total = sum(o["post"] for o in outputs)

    def test_step(self, batch, batch_idx):
        return {"scores": self(batch)}

    def test_epoch_end(self, outputs):
        self.count = len(outputs)


class Sub(Base):
    def test_step(self, batch, batch_idx):
        super().test_step(batch, batch_idx)
        return {"scores": self(batch) * 2}

    def test_epoch_end(self, outputs):
        super().test_epoch_end(outputs)
"""


def test_an_epoch_end_chain_across_a_base_and_a_subclass_is_flagged_where_it_cannot_be_kept() -> (
    None
):
    """anomalib's AnomalyModule and its models: nothing there may change silently."""
    upgraded = upgrade_source(BASE_AND_SUBCLASS, "models.py")
    manual = {
        (note.line, note.message.split(":")[0]) for note in upgraded.notes if note.kind == "manual"
    }
    assert manual == {
        (8, "2.x never calls `validation_step_end`"),  # the base's step is abstract
        (12, "the subclasses' `validation_step` return what `validation_epoch_end` reads"),
        (
            23,
            "the base class's `test_step` also appends to `self.test_step_outputs` "
            "(it collects for its own epoch-end hook)",
        ),
        (
            27,
            "this calls `test_epoch_end`, which 2.x removed (it is upgraded to a hook without outputs)",
        ),
    }
