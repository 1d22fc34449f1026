"""Generate raw PyTorch training scripts of a chosen length for the conversion benchmark."""

from __future__ import annotations

_HEAD = '''"""A raw PyTorch training script, generated for litgen's conversion benchmark."""
import argparse

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
'''

_HELPER = '''

def feature_transform_{i}(values, scale={i}.0):
    """Helper {i}: unrelated code that must survive conversion byte for byte."""
    # keep this comment: it documents helper {i}
    total = 0.0
    for position, value in enumerate(values):
        if position % 2 == 0:
            total += value * scale
        else:
            total -= value / (scale + 1.0)
    return total
'''

_TRAINING = """

class Net(nn.Module):
    def __init__(self, hidden=64):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(20, hidden), nn.ReLU(), nn.Linear(hidden, 4))

    def forward(self, x):
        return self.layers(x)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args()
    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    data = TensorDataset(torch.randn(256, 20), torch.randint(0, 4, (256,)))
    loader = DataLoader(data, batch_size=32, shuffle=True)
    model = Net().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    for epoch in range(args.epochs):
        model.train()
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
        print(f"epoch {epoch}: loss {loss.item():.4f}")


if __name__ == "__main__":
    main()
"""


def training_script(lines: int) -> str:
    """A runnable training script padded with helper functions to about LINES lines."""
    fixed = (_HEAD + _TRAINING).count("\n")
    per_helper = _HELPER.count("\n")
    helpers = max(0, (lines - fixed) // per_helper)
    return _HEAD + "".join(_HELPER.format(i=i) for i in range(helpers)) + _TRAINING
