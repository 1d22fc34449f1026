"""Suite-wide fixtures: keep litgen's template cache out of the user's home folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from versioned_templates import Releases, isolate_git


@pytest.fixture(autouse=True, scope="session")
def _isolated_template_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every `litgen new` in the suite records its template version in a throw-away cache."""
    cache = tmp_path_factory.mktemp("litgen-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LITGEN_CACHE_DIR", str(cache))
        yield cache


# --- template versions (tests/versioned_templates.py): for test_template_source and test_update ---


@pytest.fixture
def git_identity(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path / "cache")


@pytest.fixture
def releases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, git_identity: None) -> Releases:
    return Releases(tmp_path, monkeypatch)
