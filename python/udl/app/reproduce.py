"""`udl reproduce`: the five reports' studies, each on its own dataset, one stage per
experiment (`udl.app.plan.REPORTS`, the stages in `udl.app.stages`), then `report.html` and
`comparisons.csv`.

Each stage writes its models and figures, then `stages/<report>/<stage>.json` (its metrics,
tables and figure captions) last and atomically: a stage is done exactly when its JSON
exists. Running again on the same folder skips the finished stages, so an interrupted
reproduction resumes, and a folder may gain reports run later with `--reports`.
"""

from __future__ import annotations

import functools
import importlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from udl import datasets
from udl.app.plan import BUDGETS, REPORTS, SETTINGS_FILE, settings_of, stage_file
from udl.app.progress import Mode
from udl.app.report import write_report
from udl.app.runs import RunFolder
from udl.app.stages.context import Context, sized

__all__ = ["STAGES", "Context", "reproduce"]

log = logging.getLogger("udl")

StageFunction = Callable[[Context], dict[str, Any]]


def _stage_functions() -> dict[str, dict[str, StageFunction]]:
    functions = {}
    for report, plan in REPORTS.items():
        module = importlib.import_module(f"udl.app.stages.report{report}")
        if list(module.STAGES) != list(plan.stages):
            raise RuntimeError(f"report {report}: its stage functions and plan.REPORTS differ")
        functions[report] = dict(module.STAGES)
    return functions


#: report -> stage name -> function, in the plan's order (tests may replace one).
STAGES: dict[str, dict[str, StageFunction]] = _stage_functions()


def reproduce(
    run: RunFolder,
    *,
    reports: Sequence[str] = tuple(REPORTS),
    budget: str = "quick",
    seed: int = 0,
    data_dir: str | None = None,
    subset: int | None = None,
    threads: int | None = None,
    device: str = "cpu",
    mode: Mode = "log",
) -> Path:
    """Runs every stage of `reports` not yet done in `run` and writes `report.html` (and
    `comparisons.csv`); returns the page's path.

    Args:
        run: the run folder (a new one, or one to resume or extend).
        reports: keys of `udl.app.plan.REPORTS`, run in the plan's order.
        budget: a key of BUDGETS.
        seed: seeds every stage.
        data_dir: where the IDX files are (see `udl.datasets.load`).
        subset: train every stage on at most this many training images.
        threads: LibTorch threads (default: all cores).
        device: where every stage trains and runs (see `udl.settings.LoopOptions`).
        mode: progress display, see `udl.app.progress`.

    Raises:
        ValueError: for an unknown budget or report, before anything is written.
    """
    if budget not in BUDGETS:
        raise ValueError(f"budget must be one of {sorted(BUDGETS)}, got {budget!r}")
    unknown = [r for r in reports if r not in REPORTS]
    if unknown:
        raise ValueError(f"unknown report(s) {unknown}: choose from {', '.join(REPORTS)}")
    run.write_json(SETTINGS_FILE, settings_of(budget, seed, subset))

    @functools.cache
    def load(name: str) -> datasets.Dataset:
        return sized(datasets.load(name, data_dir), BUDGETS[budget], subset, seed)

    for report in (r for r in REPORTS if r in reports):
        context = Context(
            run, report, BUDGETS[budget], seed, threads, device, mode, load, REPORTS[report].dataset
        )
        for name, stage in STAGES[report].items():
            path = run.file(stage_file(report, name))
            if path.is_file():
                context.done[name] = json.loads(path.read_text(encoding="utf-8"))
                log.info("report %s stage %s: done earlier, skipped", report, name)
                continue
            log.info("report %s stage %s: %s", report, name, REPORTS[report].stages[name])
            start = time.perf_counter()
            outcome = stage(context)
            outcome["seconds"] = time.perf_counter() - start
            path.parent.mkdir(parents=True, exist_ok=True)
            run.write_json(stage_file(report, name), outcome)
            context.done[name] = json.loads(path.read_text(encoding="utf-8"))
            log.info("report %s stage %s: finished in %.0f s", report, name, outcome["seconds"])
    return write_report(run)
