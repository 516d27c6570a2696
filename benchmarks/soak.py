"""Soak test: many short Optuna trials and trainings in one process, and its memory growth.

Runs TRIALS report-000 trials through `udl.tune` (one epoch each on 512 Fashion-MNIST
images, one thread) in rounds of five, each round a new study in a fresh run folder (the
warm-up's rounds start with the search's largest CAE), followed by a CAE trained with a
checkpoint, saved, loaded back and used to encode, a VAE and a classifier (one epoch each).
Resident memory (VmRSS) is read after each round; the growth from the end of the warm-up
(the first ten trials: allocator pools, LibTorch's and Optuna's one-time state) to the end
must stay under the bound, 100 MB by default (issue 9).

    UDL_DATA_DIR=../shared/data python benchmarks/soak.py [TRIALS] [--bound-mb 100]
        [--subset 512] [--epochs 1]
    bash scripts/soak [TRIALS]          # the same, one core

Exits 1 when the growth reaches the bound. tests/test_soak.py runs a shorter soak.
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import optuna

import udl

#: Trials per `udl.tune` call (one study each), and trials run before the baseline is read.
ROUND_TRIALS = 5
WARMUP_TRIALS = 10
SUBSET = 512
#: Each warm-up round's first trials: report 000's largest CAE with each optimizer. Its
#: buffers, placed among the smaller models' freed blocks, set the allocator's high-water
#: mark; left to the sampler, the first nf=16 trial after smaller ones may come after the
#: warm-up (seeds 0 and 1 draw none) and show as a one-time step of 8 to 20 MB.
LARGEST = [
    {"nf": 16, "latent_dim": 10, "optimizer": optimizer, "lr": 1e-3, "weight_decay": 1e-5}
    for optimizer in ("adam", "sgd")
]


def rss_mb() -> float:
    """This process's resident set size (VmRSS) in MB (2^20 bytes), from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS line in /proc/self/status (not Linux?)")


@dataclass
class SoakResult:
    """What a soak measured: VmRSS (MB) after each round, by trials done."""

    trials: int
    warmup_trials: int
    seconds: float
    samples: list[tuple[int, float]] = field(default_factory=list)

    @property
    def baseline_mb(self) -> float:
        """VmRSS at the end of the warm-up."""
        return next(rss for done, rss in self.samples if done >= self.warmup_trials)

    @property
    def final_mb(self) -> float:
        return self.samples[-1][1]

    @property
    def growth_mb(self) -> float:
        """VmRSS at the end minus at the end of the warm-up."""
        return self.final_mb - self.baseline_mb

    @property
    def measured_trials(self) -> int:
        """Trials run after the baseline was read."""
        return self.trials - next(d for d, _ in self.samples if d >= self.warmup_trials)

    def summary(self) -> str:
        return (
            f"{self.trials} trials in {self.seconds:.0f} s; VmRSS {self.baseline_mb:.1f} MB "
            f"after {self.warmup_trials} warm-up trials, {self.final_mb:.1f} MB at the end: "
            f"growth {self.growth_mb:+.1f} MB over {self.measured_trials} trials, peak "
            f"{max(rss for _, rss in self.samples):.1f} MB"
        )


def _other_trainings(data: udl.datasets.Dataset, folder: Path, seed: int, epochs: int) -> None:
    """A checkpointed CAE (saved, loaded, encoding), a VAE and a classifier."""
    common = {"epochs": epochs, "threads": 1, "seed": seed}
    cae = udl.train_cae(data, nf=4, latent_dim=4, checkpoint=folder / "cae.ckpt", **common)
    cae.model.save(folder / "cae.udl")
    udl.load_model(folder / "cae.udl").encode(data.test.images)
    udl.train_vae(data, nf=4, latent_dim=2, **common)
    udl.train_classifier(data, nf=4, latent_dim=4, **common)


def soak(
    trials: int,
    data: udl.datasets.Dataset | None = None,
    *,
    subset: int = SUBSET,
    epochs: int = 1,
    progress: Callable[[int, float], None] | None = None,
) -> SoakResult:
    """Runs `trials` (a multiple of ROUND_TRIALS, > WARMUP_TRIALS) trials and the other
    trainings in this process, reading VmRSS after each round.

    Args:
        trials: trials in all.
        data: Fashion-MNIST (default: `udl.datasets.load("fashion-mnist")`); its first
            `subset` training and 128 test images are used.
        subset: training images.
        epochs: epochs of every trial and training.
        progress: called after each round with (trials done, VmRSS MB).
    """
    if trials % ROUND_TRIALS or trials <= WARMUP_TRIALS:
        raise ValueError(f"trials must be a multiple of {ROUND_TRIALS} above {WARMUP_TRIALS}")
    data = data if data is not None else udl.datasets.load("fashion-mnist")
    small = udl.datasets.Dataset(
        name=data.name,
        train=data.train.subset(np.arange(subset)),
        test=data.test.subset(np.arange(128)),
        class_names=data.class_names,
    )
    result = SoakResult(trials=trials, warmup_trials=WARMUP_TRIALS, seconds=0.0)
    start = time.perf_counter()
    for round_index in range(trials // ROUND_TRIALS):
        done_before = round_index * ROUND_TRIALS
        with tempfile.TemporaryDirectory(prefix="udl-soak-") as tmp:
            udl.tune(
                small.train,
                "report000",
                n_trials=ROUND_TRIALS,
                epochs=epochs,
                threads=1,
                seed=round_index,
                run_dir=tmp,
                enqueue=LARGEST if done_before < WARMUP_TRIALS else (),
            )
            _other_trainings(small, Path(tmp), seed=round_index, epochs=epochs)
        gc.collect()
        done = done_before + ROUND_TRIALS
        result.samples.append((done, rss_mb()))
        if progress:
            progress(done, result.samples[-1][1])
    result.seconds = time.perf_counter() - start
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trials", nargs="?", type=int, default=200)
    parser.add_argument("--bound-mb", type=float, default=100.0)
    parser.add_argument("--subset", type=int, default=SUBSET, help="training images")
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.basicConfig(level=logging.WARNING)
    print(f"VmRSS at start: {rss_mb():.1f} MB", flush=True)

    def show(done: int, rss: float) -> None:
        print(f"  {done:4d} trials  VmRSS {rss:7.1f} MB", flush=True)

    result = soak(args.trials, subset=args.subset, epochs=args.epochs, progress=show)
    print(result.summary())
    if result.growth_mb >= args.bound_mb:
        print(f"FAILED: growth {result.growth_mb:.1f} MB >= {args.bound_mb:.0f} MB")
        return 1
    print(f"passed: growth under {args.bound_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
