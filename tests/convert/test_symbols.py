"""The symbol table: stand-in names mean what the table says, whatever their spelling."""

from __future__ import annotations

from litgen.convert.symbols import Symbols


def test_helper_locals_stay_apart_and_read_as_the_scripts_names() -> None:
    symbols = Symbols()
    in_train, in_test = symbols.local("correct", "train"), symbols.local("correct", "test")
    assert in_train != in_test
    assert [symbols.readable(n) for n in (in_train, in_test)] == ["correct", "correct"]
    assert [symbols.owner(n) for n in (in_train, in_test)] == ["train", "test"]
    assert symbols.is_local(in_train) and in_train in symbols


def test_script_names_are_not_symbols() -> None:
    symbols = Symbols()
    assert "correct" not in symbols
    assert symbols.readable("correct") == "correct"
    assert symbols.owner("correct") == ""
    assert not symbols.is_local("correct") and not symbols.is_device("device")


def test_the_module_device_is_a_symbol_but_not_a_helper_local() -> None:
    symbols = Symbols()
    assert symbols.is_device(symbols.device) and symbols.device in symbols
    assert not symbols.is_local(symbols.device)


def test_order_puts_the_scripts_name_first_then_creation_order() -> None:
    symbols = Symbols()
    second, first = symbols.local("loss", "b"), symbols.local("loss", "a")
    assert sorted([first, "loss", second], key=symbols.order) == ["loss", second, first]
