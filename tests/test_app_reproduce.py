"""`udl reproduce` and `udl report`: every report's stages, the comparisons, the page,
`--reports`, resuming, refusals. Runs the smoke budget on 600 real training images of each
dataset (the quick, standard and full budgets are measured runs, not tests)."""

from __future__ import annotations

import csv
import dataclasses
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SMOKE_REPRODUCTION

from udl.app import cli, plan, reproduce
from udl.app.report import COMPARISONS_FILE, comparison_rows

pytestmark = pytest.mark.usefixtures("one_thread_per_module")


@pytest.fixture
def smoke_run(smoke_reproduction: Path, real_datasets: None, tmp_path: Path) -> Path:
    """A copy of the session's smoke reproduction that a test may change."""
    return Path(shutil.copytree(smoke_reproduction, tmp_path / "reproduction"))


def _stage(run: Path, report: str, name: str) -> dict:
    return json.loads((run / plan.stage_file(report, name)).read_text())


def _figures_listed(run: Path) -> list[str]:
    return [
        figure["file"]
        for report, stages in plan.REPORTS.items()
        for name in stages.stages
        for figure in _stage(run, report, name)["figures"]
    ]


def test_every_stage_of_every_report_runs_and_the_page_embeds_every_figure(
    smoke_reproduction: Path,
) -> None:
    for report, report_plan in plan.REPORTS.items():
        for name in report_plan.stages:
            stage = _stage(smoke_reproduction, report, name)
            assert stage["seconds"] >= 0 and stage["metrics"], (report, name)
    figures = _figures_listed(smoke_reproduction)
    assert len(figures) >= 40
    assert all((smoke_reproduction / f).is_file() for f in figures)
    page = (smoke_reproduction / "report.html").read_text()
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == len(figures)  # every figure, each embedded
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)
    assert "<link" not in text and "http" not in text  # self-contained
    sections = re.findall(r'<h2 id="report-(\d{3})">', page)
    assert sections == list(plan.REPORTS)  # one section per report, in order
    assert "Not run yet" not in page


def test_each_report_runs_on_its_own_dataset(smoke_reproduction: Path) -> None:
    # Report 003's encoder-as-classifier and report 002's head name their datasets' classes.
    mnist_classes = _stage(smoke_reproduction, "003", "classifier")
    fashion_head = _stage(smoke_reproduction, "002", "finetune")
    assert mnist_classes["metrics"]["accuracy"] >= 0 and fashion_head["metrics"]["accuracy"] >= 0
    assert plan.REPORTS["003"].dataset == "mnist" and plan.REPORTS["002"].dataset == "fashion-mnist"
    page = (smoke_reproduction / "report.html").read_text()
    section_003 = page.split('id="report-003"')[1].split('id="report-004"')[0]
    assert "Dataset: mnist" in section_003


def test_the_comparisons_file_has_every_comparison_with_its_verdict(
    smoke_reproduction: Path,
) -> None:
    with open(smoke_reproduction / COMPARISONS_FILE, newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == len(plan.COMPARISONS)
    assert all(r["udl"] != "" for r in rows)  # every comparison found its stage's figure
    informational = [r for r in rows if r["metric"] == "time per epoch, from scratch / fine-tuned"]
    assert informational[0]["bar"] == "" and informational[0]["better"] == ""
    first = {(r["report"], r["experiment"], r["metric"]): r for r in rows}
    finetune = first[("000", "fine-tuning, convolutions frozen, linear head", "test accuracy")]
    assert float(finetune["reported"]) == 0.87 and finetune["bar"] == "0.87"
    accuracy = _stage(smoke_reproduction, "000", "classifiers")["metrics"]["finetuned_accuracy"]
    assert float(finetune["udl"]) == pytest.approx(accuracy)
    assert finetune["better"] == str(accuracy >= 0.87)
    best_cell = first[("003", "the report's best cell under 6-fold CV", "mean validation MSE")]
    assert float(best_cell["reported"]) == 0.0135
    shares = [r for r in rows if r["metric"].startswith("smallest class share")]
    assert len(shares) == 6  # three GANs on two datasets
    assert {r["bar"] for r in shares} == {"0.04"}
    page = (smoke_reproduction / "report.html").read_text()
    table = page.split('id="comparisons-003"')[1].split("</table>")[0]
    assert "0.0135" in table and "98.37%" in table  # the report's numbers beside udl's


def test_udls_best_rows_state_the_recipe_their_stage_ran(smoke_reproduction: Path) -> None:
    with open(smoke_reproduction / COMPARISONS_FILE, newline="") as file:
        rows = {(r["report"], r["experiment"]): r for r in csv.DictReader(file)}
    scratch = rows[("000", "classifier from scratch")]["best_setting"]
    assert scratch == _stage(smoke_reproduction, "000", "best")["params"]["from scratch"]
    # Clothes are mirrored; digits only shifted.
    assert "batch norm" in scratch and "left-right flips" in scratch
    digits = rows[("003", "the encoder as the classifier")]["best_setting"]
    assert "shifts up to 2 pixels" in digits and "flips" not in digits
    assert all(r["best_setting"] for r in rows.values() if r["udl_best"] != "")


def test_a_comparison_holds_only_when_udl_reaches_the_bar() -> None:
    lower = plan.Comparison("002", "x", "test MSE", 0.0166, ("cae", "test_mse"), "")
    higher = plan.Comparison("000", "x", "accuracy", 0.87, ("c", "a"), "", higher_is_better=True)
    share = plan.Comparison("000", "x", "share", None, ("g", "s"), "", True, target=0.04)
    assert lower.holds(0.0150) and not lower.holds(0.0170)
    assert higher.holds(0.88) and not higher.holds(0.86)
    assert share.holds(0.05) and not share.holds(0.0) and share.bar == 0.04
    assert lower.holds(None) is None and lower.holds(float("nan")) is False
    told = plan.Comparison("000", "x", "ratio", 4.0, ("c", "r"), "", True, informational=True)
    assert told.bar is None and told.holds(10.0) is None
    best = plan.Comparison(
        "000", "x", "mse", None, ("c", "m"), "", best=("b", "m"), best_target=0.012
    )
    assert best.holds(0.0119, best.best_target) and not best.holds(0.0121, best.best_target)
    rows = comparison_rows({"002": {"cae": {"metrics": {"test_mse": 0.015}}}})
    assert [r["better"] for r in rows if r["metric"] == "test MSE"] == [True]
    assert all(r["report"] == "002" for r in rows)  # reports not run are left out


def test_the_studies_start_from_report_000s_best_and_run_report_002s_random_search(
    smoke_reproduction: Path,
) -> None:
    first = pd.read_csv(smoke_reproduction / "study" / "000" / "trials.csv").iloc[0]
    assert (first["params_nf"], first["params_latent_dim"]) == (16, 10)
    assert (first["params_optimizer"], first["params_lr"]) == ("adam", pytest.approx(4e-3))
    random_search = pd.read_csv(smoke_reproduction / "study" / "002" / "trials.csv")
    assert len(random_search) == plan.BUDGETS["smoke"].search_trials


def test_the_tables_hold_the_grid_and_the_ablations(smoke_reproduction: Path) -> None:
    grid = _stage(smoke_reproduction, "003", "grid")["tables"][0]["rows"]
    assert len(grid) == 15
    assert {(r["lr"], r["latent_dim"]) for r in grid} == {
        (lr, d) for lr in (1e-3, 1e-2, 1e-1) for d in (2, 4, 6, 8, 10)
    }
    best = _stage(smoke_reproduction, "003", "grid")["metrics"]
    chosen = min(
        grid, key=lambda r: r["mean_val_mse"] if np.isfinite(r["mean_val_mse"]) else np.inf
    )
    assert (best["best_lr"], best["best_latent_dim"]) == (chosen["lr"], chosen["latent_dim"])
    # The report's cell (latent 10), trained by udl's one-cycle schedule, as the page says.
    trained = _stage(smoke_reproduction, "003", "best")["params"]
    assert (trained["latent_dim"], trained["lr_schedule"], trained["lr"]) == (10, "onecycle", 1e-2)
    ablations = _stage(smoke_reproduction, "001", "ablations")["tables"][0]["rows"]
    assert [r["variant"] for r in ablations][:2] == ["MSE (the basic CAE)", "BCE"]
    assert all(r["seeds"] == plan.BUDGETS["smoke"].ablation_seeds for r in ablations)
    assert all(r["test_mse_std"] >= 0 for r in ablations)
    denoisers = _stage(smoke_reproduction, "004", "denoiser")["metrics"]
    assert {"zeros_denoised_mse", "dropout_denoised_mse"} <= set(denoisers)


def test_reports_chosen_with_reports_run_alone_and_a_folder_gains_more(
    real_datasets: None, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    assert cli.main([*SMOKE_REPRODUCTION, "--reports", "004", "--out", str(run)]) == 0
    assert sorted(p.name for p in (run / "stages").iterdir() if p.is_dir()) == ["004"]
    page = (run / "report.html").read_text()
    assert "--reports 004" in page and page.count("Not run yet") == 4
    kept = (run / plan.stage_file("004", "cv")).read_bytes()
    assert cli.main([*SMOKE_REPRODUCTION, "--reports", "002,004", "--out", str(run)]) == 0
    assert sorted(p.name for p in (run / "stages").iterdir() if p.is_dir()) == ["002", "004"]
    assert (run / plan.stage_file("004", "cv")).read_bytes() == kept  # not run again


@pytest.mark.parametrize(
    ("reports", "message"),
    [
        ("005", "unknown report '005'"),
        ("000,banana", "unknown report 'banana'"),
        ("001,001", "a report is named twice"),
        (",", "unknown report"),
    ],
)
def test_bad_reports_are_refused_before_anything_is_written(
    reports: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert cli.main([*SMOKE_REPRODUCTION, "--reports", reports, "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_a_rerun_resumes_only_the_missing_stages(
    smoke_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = (smoke_run / plan.stage_file("000", "cae")).read_bytes()
    for report, name in (("000", "vae"), ("003", "gan")):
        (smoke_run / plan.stage_file(report, name)).unlink()
    (smoke_run / "report.html").unlink()
    assert cli.main([*SMOKE_REPRODUCTION, "--out", str(smoke_run)]) == 0
    err = capsys.readouterr().err
    assert "report 000 stage cae: done earlier, skipped" in err
    assert "report 000 stage vae: The beta" in err and "report 003 stage gan: " in err
    assert (smoke_run / plan.stage_file("000", "cae")).read_bytes() == kept
    assert (smoke_run / plan.stage_file("003", "gan")).is_file()
    assert (smoke_run / "report.html").is_file()


def test_an_interrupted_stage_leaves_the_finished_ones(
    real_datasets: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def interrupted(context: reproduce.Context) -> dict:
        raise KeyboardInterrupt

    monkeypatch.setitem(reproduce.STAGES["004"], "vae", interrupted)
    run = tmp_path / "run"
    assert cli.main([*SMOKE_REPRODUCTION, "--reports", "004", "--out", str(run)]) == 130
    assert "the finished stages are kept" in capsys.readouterr().err
    done = sorted(p.stem for p in (run / "stages" / "004").glob("*.json"))
    assert done == ["cv", "denoiser"]
    assert not (run / "report.html").exists()
    assert not list(run.rglob(".*tmp*"))


def test_other_settings_do_not_resume_a_folder(
    smoke_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["reproduce", "--budget", "quick", "--out", str(smoke_run)]) == 2
    assert "holds a reproduction with other settings" in capsys.readouterr().err


def test_a_folder_made_with_other_budget_values_is_not_resumed(
    smoke_run: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """After an upgrade changes a budget, a folder of the old one is refused, not mixed."""
    longer = dataclasses.replace(plan.BUDGETS["smoke"], cae_epochs=2)
    monkeypatch.setitem(plan.BUDGETS, "smoke", longer)
    assert cli.main([*SMOKE_REPRODUCTION, "--out", str(smoke_run)]) == 2
    assert "holds a reproduction with other settings" in capsys.readouterr().err


def test_a_folder_of_other_files_is_refused(
    real_datasets: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "thesis.tex").write_text("...")
    assert cli.main([*SMOKE_REPRODUCTION, "--out", str(tmp_path)]) == 2
    assert "already holds files that are not a udl reproduction" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["thesis.tex"]


def test_report_command_rewrites_the_page_and_the_comparisons(smoke_run: Path) -> None:
    (smoke_run / "report.html").unlink()
    (smoke_run / COMPARISONS_FILE).unlink()
    (smoke_run / plan.stage_file("000", "gans")).unlink()
    assert cli.main(["report", str(smoke_run)]) == 0
    page = (smoke_run / "report.html").read_text()
    assert "Not run yet" in page  # the GAN stage is missing, and said to be
    with open(smoke_run / COMPARISONS_FILE, newline="") as file:
        rows = list(csv.DictReader(file))
    gan_rows = [r for r in rows if "GAN on" in r["experiment"] and r["report"] == "000"]
    assert gan_rows and all(r["udl"] == "" and r["better"] == "" for r in gan_rows)


def test_report_of_a_folder_without_a_reproduction_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["report", str(tmp_path)]) == 2
    assert "holds no `udl reproduce` run" in capsys.readouterr().err


def test_a_subset_below_two_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([*SMOKE_REPRODUCTION, "--subset", "1", "--out", str(tmp_path / "r")]) == 2
    assert "udl: error: --subset must be >= 2, got 1" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_reproduce_has_no_dataset_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["reproduce", "--dataset", "mnist"]) == 2
    assert "unrecognized arguments: --dataset" in capsys.readouterr().err
