"""What a 1.x Trainer argument's value is, as litgen reads it, and what 2.x gets in its place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# A value written literally in the code or the YAML (lists and dicts of such values).
Plain = None | bool | int | float | str | list[Any] | dict[Any, Any]


@dataclass(frozen=True)
class Unknown:
    """A value litgen cannot read (an expression); `pure`: a name or attribute, safe to mention twice."""

    code: str
    pure: bool


@dataclass(frozen=True)
class Code:
    """A Python expression for a new argument (code only: a YAML config cannot hold one)."""

    text: str


Value = Plain | Unknown
NewValue = Plain | Code


@dataclass(frozen=True)
class Callback:
    """A callback to add to `callbacks=`: its class (`lightning.pytorch.callbacks.X`) and arguments."""

    qualified: str
    arguments: tuple[tuple[str, Plain], ...] = ()

    @property
    def name(self) -> str:
        return self.qualified.rpartition(".")[2]


@dataclass(frozen=True)
class Outcome:
    arguments: tuple[tuple[str, NewValue], ...] = ()
    callback: Callback | None = None
    to_fit: str | None = None  # the argument moves to `trainer.fit(..., <to_fit>=value)`
    note: str | None = None
    manual: bool = False  # 2.x has nothing this can become: the argument stays, a person decides

    @property
    def describes(self) -> str:
        parts = [f"{key}={_show(value)}" for key, value in self.arguments]
        if self.callback is not None:
            parts.append(f"callbacks += {self.callback.name}(...)")
        if self.to_fit is not None:
            parts.append(f"fit({self.to_fit}=...)")
        return ", ".join(parts) or "removed"


def _show(value: NewValue) -> str:
    return value.text if isinstance(value, Code) else repr(value)
