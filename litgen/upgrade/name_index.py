"""Which names the modules of Lightning 2.x hold, so an upgraded import of a removed name is caught.

The table ships as `lightning_2x_names.txt`; upgrading reads it without importing Lightning. It is
written from the installed Lightning by `python -m litgen.upgrade.name_index` (a release step).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import sys
import warnings
from pathlib import Path

INDEX_FILE = Path(__file__).with_name("lightning_2x_names.txt")
ROOT = "lightning.pytorch"
UNREADABLE = "?"  # a module that exists but did not import when the table was written


@functools.cache
def _index() -> dict[str, frozenset[str] | None]:
    table: dict[str, frozenset[str] | None] = {}
    for line in INDEX_FILE.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        module, _, names = line.partition(":")
        table[module] = None if names.strip() == UNREADABLE else frozenset(names.split())
    return table


def missing_in_2x(module: str, name: str | None = None) -> str | None:
    """Why `from MODULE import NAME` (or `import MODULE`) fails on Lightning 2.x; None when it works
    or the table cannot tell (a module outside `lightning.pytorch`)."""
    if module != ROOT and not module.startswith(ROOT + "."):
        return None
    table = _index()
    if module not in table:
        return f"Lightning 2.x has no module `{module}`"
    names = table[module]
    if name is None or names is None or name in names or f"{module}.{name}" in table:
        return None
    return f"Lightning 2.x's `{module}` has no `{name}`"


def has_name(module: str, name: str) -> bool:
    """Whether Lightning 2.x's MODULE holds NAME (what `from MODULE import *` binds)."""
    names = _index().get(module)
    return names is not None and name in names and not name.startswith("_")


def write_index() -> int:
    """Write the table from the installed Lightning; the number of modules it holds."""
    warnings.simplefilter("ignore")
    package = importlib.import_module(ROOT)
    lines = [f"# names of {ROOT} {importlib.import_module('lightning').__version__}"]
    modules = [ROOT] + [
        info.name for info in pkgutil.walk_packages(package.__path__, ROOT + ".", onerror=print)
    ]
    for name in sorted(modules):
        try:
            held = sorted(n for n in vars(importlib.import_module(name)) if not n.startswith("__"))
        except Exception:  # an optional dependency is missing: the module exists, its names unknown
            lines.append(f"{name}: {UNREADABLE}")
            continue
        lines.append(f"{name}: {' '.join(held)}")
    INDEX_FILE.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(modules)


if __name__ == "__main__":
    print(f"{write_index()} modules written to {INDEX_FILE}", file=sys.stderr)
