"""The LightningModule: a causal transformer over characters, with warm-up + cosine LR and seeded text generation."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.utilities.types import OptimizerLRScheduler
from torch import Tensor, nn
from torch.nn import functional as F
from torch.optim.lr_scheduler import LambdaLR
from torchmetrics import MeanMetric

from .tokenizer import PRINTABLE_ASCII, CharTokenizer

OptimizerName = Literal["adamw", "adam", "sgd"]
Batch = tuple[Tensor, Tensor]


class TokenPerplexity(MeanMetric):
    """exp of the token-weighted mean cross-entropy: update with each batch's mean loss and its token count."""

    def compute(self) -> Tensor:
        return super().compute().exp()


class CharTransformer(LightningModule):
    """A pre-norm ``nn.TransformerEncoder`` with a causal mask, learned positions and a linear read-out.

    Logs ``train_loss`` every step, and ``val_loss``/``val_ppl`` (``test_*``) per epoch as token-weighted
    means over the whole split, synchronised across processes. The learning rate warms up linearly
    for ``warmup_fraction`` of the run's optimizer steps, then follows a cosine down to
    ``min_lr_ratio`` x ``lr``, stepped every batch. ``predict_step`` continues prompts: greedily when
    ``temperature`` is 0, else by sampling seeded with ``generation_seed`` + the prompt's index.
    """

    def __init__(
        self,
        vocabulary: str = PRINTABLE_ASCII,
        context_length: int = 64,
        d_model: int = 64,
        n_layers: int = 2,
        n_heads: int = 4,
        dropout: float = 0.0,
        optimizer: OptimizerName = "adamw",
        lr: float = 6e-3,
        weight_decay: float = 0.1,
        warmup_fraction: float = 0.05,
        min_lr_ratio: float = 0.1,
        max_new_chars: int = 200,
        temperature: float = 0.8,
        generation_seed: int = 0,
    ) -> None:
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError(f"d_model {d_model} must be divisible by n_heads {n_heads}")
        if not 0 <= warmup_fraction < 1:
            raise ValueError(f"warmup_fraction must be in [0, 1), got {warmup_fraction}")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0 (0 = greedy), got {temperature}")
        # The generation settings stay out of the saved hyper-parameters: given --ckpt_path, LightningCLI
        # replaces model arguments by the checkpoint's saved ones, and these must stay settable at predict time.
        self.save_hyperparameters(ignore=["max_new_chars", "temperature", "generation_seed"])
        self.max_new_chars = max_new_chars
        self.temperature = temperature
        self.generation_seed = generation_seed
        self.tokenizer = CharTokenizer(vocabulary)
        self.token_embedding = nn.Embedding(len(vocabulary), d_model)
        self.position_embedding = nn.Embedding(context_length, d_model)
        self.embedding_dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(
            d_model,
            n_heads,
            dim_feedforward=4 * d_model,
            dropout=dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,  # pre-norm trains stably without a long warm-up
        )
        # Nested tensors only speed up padded batches, and they are unavailable with norm_first.
        self.blocks = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.final_norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, len(vocabulary))
        # True above the diagonal = position i may not attend to j > i. A boolean mask works under any autocast dtype.
        causal = torch.triu(torch.ones(context_length, context_length, dtype=torch.bool), diagonal=1)
        self.register_buffer("causal_mask", causal, persistent=False)
        # What forward() takes (character ids): the model summary and exporters trace with it.
        self.example_input_array = torch.zeros(2, context_length, dtype=torch.long)
        for embedding in (self.token_embedding, self.position_embedding):
            nn.init.normal_(embedding.weight, std=0.02)
        # One metric per split: token-weighted over the epoch, synchronised across processes.
        self.val_loss = MeanMetric()
        self.val_ppl = TokenPerplexity()
        self.test_loss = MeanMetric()
        self.test_ppl = TokenPerplexity()

    def forward(self, ids: Tensor) -> Tensor:
        """Next-character logits ``(batch, length, vocabulary)`` for ids ``(batch, length)``, length <= context."""
        length = ids.shape[1]
        if length > self.hparams.context_length:
            raise ValueError(f"sequence length {length} exceeds context_length {self.hparams.context_length}")
        positions = torch.arange(length, device=ids.device)
        hidden = self.embedding_dropout(self.token_embedding(ids) + self.position_embedding(positions))
        hidden = self.blocks(hidden, mask=self.causal_mask[:length, :length], is_causal=True)
        return self.head(self.final_norm(hidden))

    def _loss(self, batch: Batch) -> Tensor:
        ids, targets = batch
        logits = self(ids)
        return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        loss = self._loss(batch)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._evaluate(batch, "val", self.val_loss, self.val_ppl)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._evaluate(batch, "test", self.test_loss, self.test_ppl)

    def _evaluate(self, batch: Batch, split: str, mean_loss: MeanMetric, perplexity: TokenPerplexity) -> None:
        loss, tokens = self._loss(batch), batch[1].numel()
        mean_loss.update(loss, weight=tokens)
        perplexity.update(loss, weight=tokens)
        # Logging the metric objects makes Lightning compute (and sync) them once, at the end of the epoch.
        self.log(f"{split}_loss", mean_loss, prog_bar=split == "val")
        self.log(f"{split}_ppl", perplexity, prog_bar=split == "val")

    def predict_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> list[dict[str, Any]]:
        indices, prompts = batch
        results = []
        for index, prompt in zip(indices.tolist(), prompts):
            generator = torch.Generator(device=self.device).manual_seed(self.generation_seed + index)
            ids = self.generate(prompt.unsqueeze(0), self.max_new_chars, self.temperature, generator)
            prompt_text = self.tokenizer.decode(prompt)
            results.append({"index": index, "prompt": prompt_text, "text": self.tokenizer.decode(ids[0])})
        return results

    @torch.no_grad()
    def generate(
        self, ids: Tensor, new_chars: int, temperature: float = 0.0, generator: torch.Generator | None = None
    ) -> Tensor:
        """IDS ``(batch, length)`` followed by NEW_CHARS more: argmax if TEMPERATURE is 0, else sampled."""
        for _ in range(new_chars):
            logits = self(ids[:, -self.hparams.context_length :])[:, -1].float()
            if temperature == 0:
                next_ids = logits.argmax(dim=-1, keepdim=True)
            else:
                probabilities = F.softmax(logits / temperature, dim=-1)
                next_ids = torch.multinomial(probabilities, num_samples=1, generator=generator)
            ids = torch.cat([ids, next_ids], dim=1)
        return ids

    def configure_optimizers(self) -> OptimizerLRScheduler:
        hparams = self.hparams
        # Weight decay shrinks weight matrices only; decaying biases, norms and embeddings just hurts.
        decayed = [p for name, p in self.named_parameters() if p.ndim >= 2 and "embedding" not in name]
        kept = [p for name, p in self.named_parameters() if not (p.ndim >= 2 and "embedding" not in name)]
        groups = [{"params": decayed, "weight_decay": hparams.weight_decay}, {"params": kept, "weight_decay": 0.0}]
        if hparams.optimizer == "sgd":
            optimizer = torch.optim.SGD(groups, lr=hparams.lr, momentum=0.9, nesterov=True)
        elif hparams.optimizer == "adamw":
            optimizer = torch.optim.AdamW(groups, lr=hparams.lr, betas=(0.9, 0.95))
        else:
            optimizer = torch.optim.Adam(groups, lr=hparams.lr, betas=(0.9, 0.95))

        # Lightning counts the optimizer steps of the whole run (epochs, accumulation, devices, nodes).
        total_steps = self.trainer.estimated_stepping_batches
        if not math.isfinite(total_steps):
            raise ValueError("the warm-up + cosine schedule spans the run: set trainer.max_epochs or max_steps")
        multiplier = warmup_cosine(max(1, int(total_steps)), hparams.warmup_fraction, hparams.min_lr_ratio)
        schedule = LambdaLR(optimizer, multiplier)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


def warmup_cosine(total_steps: int, warmup_fraction: float, min_ratio: float) -> Callable[[int], float]:
    """The LR multiplier for step s: linear from 1/W up to 1 over W warm-up steps, then a cosine down to MIN_RATIO."""
    warmup_steps = round(warmup_fraction * total_steps)

    def multiplier(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return multiplier
