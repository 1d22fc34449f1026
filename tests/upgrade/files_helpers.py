"""What the `upgrade_paths` tests share: 1.x and 2.x texts, and folder and git helpers."""

from __future__ import annotations

import subprocess
from pathlib import Path

OLD = (
    "import pytorch_lightning as pl\n"
    "trainer = pl.Trainer(gpus=1, max_epochs=3)\n"
    "trainer.fit(model, train_dataloader=loader)\n"
)
NEW = (
    "import lightning.pytorch as pl\n"
    'trainer = pl.Trainer(accelerator="cuda", devices=1, max_epochs=3)\n'
    "trainer.fit(model, train_dataloaders=loader)\n"
)
PLAIN = "x = 1\n"  # nothing Lightning about it: upgrading changes nothing
OLD_YAML = "trainer:\n  gpus: 1\n  max_epochs: 3\n"
NEW_YAML = "trainer:\n  accelerator: cuda\n  devices: 1\n  max_epochs: 3\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


def make_repo(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir()
    for name, text in files.items():
        write(folder / name, text)
    git(folder, "init", "-q")
    git(folder, "config", "user.email", "tests@example.com")
    git(folder, "config", "user.name", "Tests")
    git(folder, "config", "commit.gpgsign", "false")
    git(folder, "add", ".")
    git(folder, "commit", "-q", "-m", "initial")
    return folder


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under FOLDER (outside .git) with its bytes and mtime."""
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(folder).parts
    }
