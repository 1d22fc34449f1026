"""The LightningDataModule: Python's bundled reference documentation as a character corpus, split by document."""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from .inmemory import InMemoryDataModule
from .tokenizer import PRINTABLE_ASCII, CharTokenizer

DOCUMENT_SEPARATOR = "\n\n"
DEFAULT_PROMPTS = ("The ", "A class ", "If the ")


def load_documents() -> dict[str, str]:
    """The language reference topics every Python installation ships (``pydoc_data.topics``, behind ``help()``).

    About 80 documents and 460,000 characters of English prose with code examples. The text is part of
    the standard library, so it is the same on every install of one Python version (and close across versions).
    """
    from pydoc_data.topics import topics

    return {name: topics[name] for name in sorted(topics)}


def split_documents(
    documents: dict[str, str], val_fraction: float, test_fraction: float, seed: int
) -> tuple[list[str], list[str], list[str]]:
    """Shuffle the document names with SEED and deal them to test, then val, until each has its share of characters.

    Whole documents go to one split, so validation measures text the model has never seen a word of.
    """
    names = sorted(documents)
    random.Random(seed).shuffle(names)
    total = sum(len(documents[name]) for name in names)
    splits: list[list[str]] = [[], []]  # test, val
    for split, fraction in zip(splits, (test_fraction, val_fraction)):
        while names and sum(len(documents[name]) for name in split) < fraction * total:
            split.append(names.pop())
    test, val = splits
    return sorted(names), sorted(val), sorted(test)


class CharWindows(Dataset):
    """Consecutive non-overlapping windows of a character-id sequence: item i predicts window i shifted by one.

    Item i is ``(ids[i*L : i*L+L], ids[i*L+1 : i*L+L+1])`` for context length L: every character after
    the first is a target exactly once per epoch.
    """

    def __init__(self, ids: Tensor, context_length: int) -> None:
        if len(ids) <= context_length:
            raise ValueError(f"the text has {len(ids)} characters, it needs context_length + 1 = {context_length + 1}")
        self.ids = ids
        self.context_length = context_length

    def __len__(self) -> int:
        return (len(self.ids) - 1) // self.context_length

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        start = index * self.context_length
        window = self.ids[start : start + self.context_length + 1]
        return window[:-1], window[1:]


class PromptDataset(Dataset):
    """Prompts to continue in ``predict``: item i is ``(i, prompt ids)``; the index keeps DDP shards mergeable."""

    def __init__(self, prompts: Sequence[str], tokenizer: CharTokenizer) -> None:
        self.prompts = [tokenizer.encode(prompt) for prompt in prompts]
        empty = [prompt for prompt, ids in zip(prompts, self.prompts) if len(ids) == 0]
        if empty:
            raise ValueError(f"prompts need at least one character of the vocabulary, got {empty!r}")

    def __len__(self) -> int:
        return len(self.prompts)

    def __getitem__(self, index: int) -> tuple[int, Tensor]:
        return index, self.prompts[index]


class CharCorpusDataModule(InMemoryDataModule):
    """Character windows of the pydoc topics; the document split comes from ``split_seed``.

    There is nothing to download and no ``prepare_data``: every process (one per device under DDP)
    reads the text in ``setup`` and derives the identical split. ``vocabulary`` is linked to the
    model by the CLI, and ``context_length`` comes from the model's.
    """

    def __init__(
        self,
        context_length: int = 64,
        batch_size: int = 32,
        num_workers: int = 0,
        val_fraction: float = 0.05,
        test_fraction: float = 0.05,
        split_seed: int = 42,
        prompts: Sequence[str] = DEFAULT_PROMPTS,
    ) -> None:
        super().__init__()
        if not (0 < val_fraction and 0 < test_fraction and val_fraction + test_fraction < 1):
            raise ValueError(
                "val_fraction and test_fraction must be > 0 and sum to less than 1, "
                f"got {val_fraction} and {test_fraction}"
            )
        self.save_hyperparameters()
        self.tokenizer = CharTokenizer(PRINTABLE_ASCII)

    @property
    def vocabulary(self) -> str:
        return self.tokenizer.vocabulary

    def build_splits(self) -> None:
        documents = load_documents()
        context = self.hparams.context_length
        splits = split_documents(
            documents, self.hparams.val_fraction, self.hparams.test_fraction, self.hparams.split_seed
        )
        self.train_set, self.val_set, self.test_set = (
            CharWindows(self.tokenizer.encode(DOCUMENT_SEPARATOR.join(documents[name] for name in names)), context)
            for names in splits
        )

    def predict_dataloader(self) -> DataLoader:
        # One prompt per batch: prompts differ in length, and generation is cheap next to training.
        return DataLoader(PromptDataset(self.hparams.prompts, self.tokenizer), batch_size=1)
