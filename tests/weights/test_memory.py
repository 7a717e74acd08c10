"""Peak memory stays bounded by a few chunks, not by the tensors, measured in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

CHILD = r"""
import json, sys
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
from fourlens.weights import compare
open("/proc/self/clear_refs", "w").write("5")  # reset VmHWM: measure the comparison only
base = status("VmRSS")
result = compare(sys.argv[1], sys.argv[2], io=sys.argv[3], workers=2)
print(json.dumps({"growth": status("VmHWM") - base, "change": result.global_rel_change}))
"""


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc to measure peak RSS")
@pytest.mark.parametrize("io", ["pread", "mmap"])
def test_peak_rss_grows_by_far_less_than_the_largest_tensor(tmp_path: Path, write_st, io: str) -> None:
    generator = torch.Generator().manual_seed(0)
    big = torch.randn(16 << 20, generator=generator)  # 64 MiB in float32: the largest tensor
    # many small tensors too: page release must hold across tensor boundaries, not only within one
    small = {f"layers.{i}.w": torch.randn(1 << 20, generator=generator).bfloat16() for i in range(24)}
    path_a = write_st("a.safetensors", {"embed": big, **small})
    path_b = write_st("b.safetensors", {"embed": big * 1.01, **{k: v * 2 for k, v in small.items()}})
    del big, small
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    out = subprocess.run([sys.executable, "-c", CHILD, str(path_a), str(path_b), io], capture_output=True,
                         text=True, env=env, check=True, timeout=300)
    measured = json.loads(out.stdout.strip().splitlines()[-1])
    largest = 64 << 20
    # buffers: 2 workers x (3 x 1 MiB float32 rows + 2 x 2 MiB raw bytes) plus allocator slack; files: 2 x 112 MiB
    assert measured["growth"] < 40 << 20 < largest, measured
    assert measured["change"] > 0
