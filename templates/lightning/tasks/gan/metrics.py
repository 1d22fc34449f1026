"""Sample quality on the ring: how many samples land on a mode, how many modes are covered, and how evenly."""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric


class RingQuality(Metric):
    """Counts generated samples per mode; a sample belongs to a mode when it lies within 3 std of its centre.

    ``compute()`` returns, over every sample seen since the last reset (summed across processes):

    - ``hq``: the fraction of samples within 3 std of some mode (real data scores 0.989);
    - ``modes``: the number of modes holding at least ``coverage_share`` of their fair share of the
      samples (a collapsed generator covers 1);
    - ``tv``: the total variation distance between the samples' histogram over {each mode, off every
      mode} and the data's uniform one over the modes: 0 is perfect, 1 - 1/n_modes a single mode.
    """

    full_state_update = False

    def __init__(self, centers: Tensor, std: float, coverage_share: float = 0.25) -> None:
        super().__init__()
        self.register_buffer("centers", centers.float(), persistent=False)
        self.radius = 3 * std
        self.coverage_share = coverage_share
        self.add_state("mode_counts", torch.zeros(len(centers)), dist_reduce_fx="sum")
        self.add_state("total", torch.tensor(0.0), dist_reduce_fx="sum")

    def update(self, samples: Tensor) -> None:
        squared_distances = (samples.float().unsqueeze(1) - self.centers).pow(2).sum(dim=-1)
        nearest_squared, nearest = squared_distances.min(dim=1)
        on_mode = nearest_squared <= self.radius**2
        # A comparison with every mode index, summed, counts like bincount but is deterministic on GPU too.
        mode_ids = torch.arange(len(self.centers), device=samples.device)
        self.mode_counts += (nearest[on_mode].unsqueeze(1) == mode_ids).sum(dim=0).float()
        self.total += samples.shape[0]

    def compute(self) -> dict[str, Tensor]:
        shares = self.mode_counts / self.total.clamp(min=1)
        fair_share = 1 / len(self.centers)
        return {
            "hq": shares.sum(),
            "modes": (shares >= self.coverage_share * fair_share).sum().float(),
            "tv": 1 - torch.minimum(shares, torch.full_like(shares, fair_share)).sum(),
        }
