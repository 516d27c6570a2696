"""The soak test's short version: 25 trials and their trainings in this process, memory
growth bounded (benchmarks/soak.py; `bash scripts/soak` runs the full 200)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import udl

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "soak.py"
_spec = importlib.util.spec_from_file_location("udl_benchmarks_soak", _PATH)
assert _spec is not None and _spec.loader is not None
soak = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = soak  # dataclasses look their module up in sys.modules
_spec.loader.exec_module(soak)

# The full soak's budget is 100 MB over its 190 trials after the warm-up, 0.53 MB a trial.
# Here 15 trials follow the warm-up: their share, 8 MB, plus 12 MB for allocator noise
# (glibc arenas and LibTorch's pools grow in steps of a few MB, independent of the count).
# A leak of 1.5 MB a trial (one 28 x 28 float copy of the 512-image subset kept per
# trial) or more fails it.
BOUND_MB = 15 * 100 / 190 + 12


def test_rss_mb_sees_memory_that_is_touched() -> None:
    before = soak.rss_mb()
    block = np.ones(64 * 2**20, dtype=np.uint8)  # 64 MB, every page written
    assert soak.rss_mb() - before > 60
    del block


def test_soak_rejects_a_count_it_cannot_split() -> None:
    with pytest.raises(ValueError, match="multiple of 5"):
        soak.soak(12)


@pytest.mark.slow
def test_25_trials_grow_resident_memory_by_less_than_the_scaled_bound(
    fashion: udl.datasets.Dataset, one_thread_per_module: None
) -> None:
    result = soak.soak(25, fashion)
    assert [done for done, _ in result.samples] == [5, 10, 15, 20, 25]
    assert result.measured_trials == 15
    assert result.growth_mb < BOUND_MB, result.summary()
