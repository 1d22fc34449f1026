"""Characters to ids and back: the printable-ASCII alphabet, text normalisation, and a character tokenizer."""

from __future__ import annotations

import unicodedata

import torch
from torch import Tensor

# Newline plus the 95 printable ASCII characters: a fixed alphabet, so a checkpoint decodes the same
# way on every Python version, and the uniform-guess perplexity baseline is exactly 96.
PRINTABLE_ASCII = "\n" + "".join(chr(code) for code in range(32, 127))

# Typography that ASCII spells differently; NFKD then splits accented letters into letter + accent,
# and whatever is still outside the alphabet (the accents, symbols such as °) is dropped.
_TYPOGRAPHY = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'",  # curly single quotes
        "\u201c": '"', "\u201d": '"',  # curly double quotes
        "\u2013": "-", "\u2014": "--", "\u2026": "...",  # en dash, em dash, ellipsis
        "\t": "    ",
    }
)


def normalise(text: str) -> str:
    """TEXT folded to plain ASCII: curly quotes and dashes spelled out, accents and unknown symbols dropped."""
    folded = unicodedata.normalize("NFKD", text.translate(_TYPOGRAPHY))
    return folded.replace("\r\n", "\n").encode("ascii", "ignore").decode("ascii")


class CharTokenizer:
    """Maps each character of VOCABULARY to its position; characters outside it are dropped on encode."""

    def __init__(self, vocabulary: str) -> None:
        if not vocabulary or len(set(vocabulary)) != len(vocabulary):
            raise ValueError(f"vocabulary must be a non-empty string of distinct characters, got {vocabulary!r}")
        self.vocabulary = vocabulary
        self._ids = {char: index for index, char in enumerate(vocabulary)}

    def __len__(self) -> int:
        return len(self.vocabulary)

    def encode(self, text: str) -> Tensor:
        ids = [self._ids[char] for char in normalise(text) if char in self._ids]
        return torch.tensor(ids, dtype=torch.long)

    def decode(self, ids: Tensor | list[int]) -> str:
        values = ids.tolist() if isinstance(ids, Tensor) else ids
        return "".join(self.vocabulary[index] for index in values)
