"""Suite-wide fixtures: keep litgen's template cache out of the user's home folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_template_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every `litgen new` in the suite records its template version in a throw-away cache."""
    cache = tmp_path_factory.mktemp("litgen-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LITGEN_CACHE_DIR", str(cache))
        yield cache
