"""`udl reproduce` and `udl report`: every stage, the report page, resuming, refusals. Runs
the smoke budget on 600 real training images (the quick and full budgets are measured runs,
not tests)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import udl
from udl.app import cli, reproduce
from udl.app.report import FIGURES_OF_MERIT

pytestmark = pytest.mark.usefixtures("one_thread_per_module")

SMOKE = ["reproduce", "--budget", "smoke", "--threads", "1"]


@pytest.fixture(scope="module")
def smoke_origin(fashion: udl.datasets.Dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One smoke reproduction on 600 real training images, made once for the module."""
    small = udl.datasets.Dataset(
        name="fashion-mnist",
        train=fashion.train.subset(np.arange(600)),
        test=fashion.test.subset(np.arange(200)),
        class_names=fashion.class_names,
    )
    run = tmp_path_factory.mktemp("smoke") / "reproduction"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(udl.datasets, "load", lambda name, data_dir=None: small)
        assert cli.main([*SMOKE, "--out", str(run)]) == 0
    return run


@pytest.fixture
def smoke_run(smoke_origin: Path, small_fashion: list, tmp_path: Path) -> Path:
    """A copy of the smoke reproduction that a test may change."""
    return Path(shutil.copytree(smoke_origin, tmp_path / "reproduction"))


def _figures_listed(run: Path) -> list[str]:
    return [
        figure["file"]
        for name in reproduce.STAGES
        for figure in json.loads((run / "stages" / f"{name}.json").read_text())["figures"]
    ]


def test_every_stage_runs_and_the_report_embeds_every_figure(smoke_run: Path) -> None:
    for name in reproduce.STAGES:
        stage = json.loads((smoke_run / "stages" / f"{name}.json").read_text())
        assert stage["seconds"] >= 0 and stage["metrics"], name
    figures = _figures_listed(smoke_run)
    assert len(figures) >= 12
    page = (smoke_run / "report.html").read_text()
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == len(figures)  # every figure, each embedded
    assert "<link" not in page and "http" not in page.split("</style>")[1]  # self-contained
    table = page.split('<table id="figures-of-merit">')[1].split("</table>")[0]
    assert table.count("<tr>") == len(FIGURES_OF_MERIT) + 1
    assert "not run" not in table
    assert "0.0166" in table and "87% / 78%" in table  # the reports' own numbers beside
    for name in ("cae", "vae", "gan", "denoiser", "classifier-finetuned", "feature-network"):
        assert (smoke_run / "models" / f"{name}.udl").is_file()


def test_the_study_starts_from_report_000s_best(smoke_run: Path) -> None:
    first = pd.read_csv(smoke_run / "study" / "trials.csv").iloc[0]
    assert (first["params_nf"], first["params_latent_dim"]) == (16, 10)
    assert (first["params_optimizer"], first["params_lr"]) == ("adam", pytest.approx(4e-3))


def test_a_rerun_resumes_only_the_missing_stages(
    smoke_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    kept = (smoke_run / "stages" / "cae.json").read_bytes()
    for name in ("gan", "quality"):
        (smoke_run / "stages" / f"{name}.json").unlink()
    (smoke_run / "report.html").unlink()
    assert cli.main([*SMOKE, "--out", str(smoke_run)]) == 0
    err = capsys.readouterr().err
    assert "stage cae: done earlier, skipped" in err
    assert "stage gan: GAN" in err and "stage quality:" in err
    assert (smoke_run / "stages" / "cae.json").read_bytes() == kept
    assert (smoke_run / "report.html").is_file()


def test_an_interrupted_stage_leaves_the_finished_ones(
    small_fashion: list,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def interrupted(context: reproduce.Context) -> dict:
        raise KeyboardInterrupt

    title, _ = reproduce.STAGES["vae"]
    monkeypatch.setitem(reproduce.STAGES, "vae", (title, interrupted))
    run = tmp_path / "run"
    assert cli.main([*SMOKE, "--out", str(run)]) == 130
    assert "the finished stages are kept" in capsys.readouterr().err
    done = sorted(p.stem for p in (run / "stages").glob("*.json"))
    assert done == sorted(["settings", "tune", "cae", "latent", "classifiers", "denoiser"])
    assert not (run / "report.html").exists()
    assert not list(run.rglob(".*tmp*"))


def test_other_settings_do_not_resume_a_folder(
    smoke_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["reproduce", "--budget", "quick", "--out", str(smoke_run)]) == 2
    assert "holds a reproduction with other settings" in capsys.readouterr().err


def test_a_folder_of_other_files_is_refused(
    small_fashion: list, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "thesis.tex").write_text("...")
    assert cli.main([*SMOKE, "--out", str(tmp_path)]) == 2
    assert "already holds files that are not a udl reproduction" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["thesis.tex"]


def test_report_command_rewrites_the_page(smoke_run: Path) -> None:
    (smoke_run / "report.html").unlink()
    (smoke_run / "stages" / "gan.json").unlink()
    assert cli.main(["report", str(smoke_run)]) == 0
    page = (smoke_run / "report.html").read_text()
    assert "Not run yet" in page  # the GAN stage is missing, and said to be


def test_report_of_a_folder_without_a_reproduction_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["report", str(tmp_path)]) == 2
    assert "holds no `udl reproduce` run" in capsys.readouterr().err


def test_a_subset_below_two_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([*SMOKE, "--subset", "1", "--out", str(tmp_path / "r")]) == 2
    assert "udl: error: --subset must be >= 2, got 1" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
