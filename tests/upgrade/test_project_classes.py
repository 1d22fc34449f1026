"""Lightning classes across the files of one upgrade: a subclass in another file is upgraded too."""

from __future__ import annotations

from pathlib import Path

from litgen.upgrade.classes import project_classes
from litgen.upgrade.files import upgrade_paths

BASE = """\
import pytorch_lightning as pl


class Base(pl.LightningModule):
    def training_step(self, batch, batch_idx):
        return self.layer(batch).sum()

    def on_train_epoch_end(self):
        self.log_epoch()


class Clamp(pl.callbacks.EarlyStopping):
    pass
"""
CHILD = """\
from base import Base


class Child(Base):
    def training_epoch_end(self, outputs):
        print(len(outputs))
"""


def test_kinds_and_methods_follow_bases_across_files() -> None:
    other = "class Plain(object):\n    def f(self):\n        pass\n"
    project = project_classes([CHILD, BASE, other])
    assert dict(project.kinds) == {"Base": "module", "Child": "module", "Clamp": "callback"}
    assert project.methods["Child"] == {"training_epoch_end", "training_step", "on_train_epoch_end"}


def test_a_subclass_in_a_file_without_lightning_collects_the_inherited_step(tmp_path: Path) -> None:
    (tmp_path / "base.py").write_text(BASE, encoding="utf-8")
    (tmp_path / "child.py").write_text(CHILD, encoding="utf-8")
    report = upgrade_paths([tmp_path])
    assert not report.failed
    child = (tmp_path / "child.py").read_text(encoding="utf-8")
    # the step is Base's: an override collects what it returns; Base's own epoch hook still runs
    assert "    def training_step(self, *args, **kwargs):\n" in child
    assert "output = super().training_step(*args, **kwargs)" in child
    assert "        print(len(outputs))\n        super().on_train_epoch_end()\n" in child
    assert "training_epoch_end" not in child


def test_a_trainer_key_the_project_reads_from_its_config_stays_in_the_yaml(tmp_path: Path) -> None:
    """lightly's CLI reads `cfg["trainer"]["gpus"]`: renaming the key only in the YAML breaks it."""
    config = "trainer:\n  gpus: 1\n  weights_summary: top\n  max_epochs: 3\n"
    script = (
        "def train(cfg):\n"
        "    if cfg['trainer']['gpus'] and not cuda():\n        cfg['trainer']['gpus'] = 0\n"
    )
    (tmp_path / "config.yaml").write_text(config, encoding="utf-8")
    (tmp_path / "train_cli.py").write_text(script, encoding="utf-8")
    report = upgrade_paths([tmp_path])
    upgraded = (tmp_path / "config.yaml").read_text(encoding="utf-8")
    assert "  gpus: 1\n" in upgraded and "accelerator" not in upgraded
    assert "weights_summary" not in upgraded  # not read by the code: upgraded as usual
    notes = [n for f in report.files if f.upgraded for n in f.upgraded.notes]
    assert any("reads `gpus`" in n.message and n.kind == "manual" for n in notes)
