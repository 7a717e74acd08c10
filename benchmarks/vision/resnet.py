"""A ResNet-18-shaped network (He et al. 2016, table 1), defined here so no torchvision is needed.

Weights are random: they do not matter for speed. In-place ReLUs as in the usual implementation.
"""

from __future__ import annotations

import torch
from torch import nn


class BasicBlock(nn.Module):
    """`downsample_last`: compute the shortcut after the main branch, as torchvision does (same result;
    the order only matters to tools that pair layers with gradients by the order hooks fire)."""

    def __init__(self, cin: int, cout: int, stride: int, downsample_last: bool = False) -> None:
        super().__init__()
        self.downsample_last = downsample_last
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.downsample_last:
            identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample_last:
            identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNet18(nn.Module):
    def __init__(self, n_classes: int = 1000, downsample_last: bool = False) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        widths, cin, layers = (64, 128, 256, 512), 64, []
        for i, width in enumerate(widths):
            layers.append(nn.Sequential(BasicBlock(cin, width, 1 if i == 0 else 2, downsample_last),
                                        BasicBlock(width, width, 1, downsample_last)))
            cin = width
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def resnet18(seed: int = 0) -> ResNet18:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ResNet18().eval()
