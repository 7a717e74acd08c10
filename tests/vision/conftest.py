"""Vision fixtures: a tiny hand-built CNN (exact checks) and the trained zoo model (checks that need learning).

The zoo model is trained once per test session into a temporary XDG cache (nothing from the user's
cache is read), then reused by every test.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fourlens.demo import zoo


class TinyNet(nn.Module):
    """Conv-ReLU-MaxPool-Conv-ReLU-GAP-Linear in float64; `functional` uses F.relu, `inplace` in-place ReLUs."""

    def __init__(self, functional: bool = False, inplace: bool = False, seed: int = 0) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
            self.relu1 = nn.ReLU(inplace=inplace)
            self.pool = nn.MaxPool2d(2)
            self.conv2 = nn.Conv2d(6, 8, 3, padding=1)
            self.relu2 = nn.ReLU(inplace=inplace)
            self.gap = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(8, 5)
        self.functional = functional
        self.double()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.functional:
            h = torch.nn.functional.relu(self.conv2(self.pool(torch.relu(self.conv1(x)))))
        else:
            h = self.relu2(self.conv2(self.pool(self.relu1(self.conv1(x)))))
        return self.fc(self.gap(h).flatten(1))


@pytest.fixture
def tiny() -> TinyNet:
    return TinyNet().eval()


@pytest.fixture
def tiny_x() -> torch.Tensor:
    return torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


@pytest.fixture(scope="session")
def zoo_cache(tmp_path_factory: pytest.TempPathFactory):
    return tmp_path_factory.mktemp("xdg-cache")


@pytest.fixture(scope="session")
def zoo_model(zoo_cache) -> nn.Module:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(zoo_cache))
        return zoo.zoo_model()


@pytest.fixture(scope="session")
def zoo_batch() -> zoo.ZooBatch:
    return zoo.make_zoo(24, seed=777)


@pytest.fixture(scope="session")
def zoo_vit() -> nn.Module:
    """A small ViT trained on the zoo task (once per session; see tests/vision/zoo_vit.py)."""
    from tests.vision.zoo_vit import train_zoo_vit

    model, accuracy = train_zoo_vit()
    assert accuracy > 0.6, f"the zoo ViT did not learn the task (held-out accuracy {accuracy:.2f})"
    return model
