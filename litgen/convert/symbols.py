"""The conversion's symbol table: the stand-in names planning invents, and what each one stands for."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Symbol:
    """What a stand-in name means: the script's own `name`, local to the helper `owner` ("" for litgen's own)."""

    name: str
    owner: str
    number: int  # creation order: clashing symbols get the same readable names on every run


class Symbols:
    """Every stand-in name of one conversion.

    Inlining two helpers that both use `correct` must keep them apart until the module is emitted, so
    each helper-local variable gets a unique stand-in name. What a stand-in means lives only here:
    code asks the table (`readable`, `owner`, `is_device`) and never reads meaning out of a spelling.
    """

    def __init__(self) -> None:
        self._symbols: dict[str, Symbol] = {}
        self.device = self._add("device", "")  # `self.device`, once there is a LightningModule

    def local(self, name: str, owner: str) -> str:
        """A new stand-in for the variable `name` local to the helper `owner`."""
        return self._add(name, owner)

    def _add(self, name: str, owner: str) -> str:
        number = len(self._symbols)
        stand_in = (
            f"{name}__lg{number}"  # an identifier no script writes; its spelling is never parsed
        )
        self._symbols[stand_in] = Symbol(name, owner, number)
        return stand_in

    def __contains__(self, name: object) -> bool:
        return name in self._symbols

    def is_local(self, name: str) -> bool:
        """A stand-in for a helper's own variable (not the script's name, not litgen's `self.device`)."""
        return name in self._symbols and name != self.device

    def is_device(self, name: str) -> bool:
        return name == self.device

    def readable(self, name: str) -> str:
        """The script's own name for a stand-in; any other name is already readable."""
        symbol = self._symbols.get(name)
        return symbol.name if symbol is not None else name

    def owner(self, name: str) -> str:
        symbol = self._symbols.get(name)
        return symbol.owner if symbol is not None else ""

    def order(self, name: str) -> tuple[str, int]:
        """Sort key: by readable name, then creation order (the script's own names first)."""
        symbol = self._symbols.get(name)
        return (symbol.name, symbol.number + 1) if symbol is not None else (name, 0)
