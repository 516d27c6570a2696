"""notebooks/: each report's notebook executes top to bottom at the small budget in a fresh
kernel (nbclient), shows figures and prints the figures of merit of its summary; and the
notebooks are stored with the outputs of the medium budget, so that they show when opened."""

from __future__ import annotations

import math
import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"

#: notebook -> (the conftest fixture of its dataset, the figures of merit its summary prints)
NOTEBOOKS = {
    "report000": (
        "fashion",
        [
            "search best validation MSE",
            "best CAE test MSE",
            "fine-tuned accuracy",
            "from-scratch accuracy",
            "VAE test MSE",
            "GAN Frechet distance",
            "GAN Inception Score",
        ],
    ),
    "report001": (
        "mnist",
        [
            "basic CAE test MSE",
            "BCE test MSE",
            "pruned test MSE",
            "dropout test MSE",
            "iterative test MSE",
            "search best objective",
            "Pareto front size",
            "CV mean validation MSE",
            "CV best fold test MSE",
        ],
    ),
    "report002": (
        "fashion",
        [
            "search best validation MSE",
            "CAE test MSE",
            "VAE test MSE",
            "CAE samples Frechet distance",
            "VAE samples Frechet distance",
            "fine-tuned accuracy",
        ],
    ),
    "report003": (
        "mnist",
        [
            "grid best validation MSE",
            "CV mean training MSE",
            "CV mean validation MSE",
            "encoder classifier accuracy",
            "denoiser PSNR gain",
            "GAN generator loss",
            "GAN Frechet distance",
        ],
    ),
    "report004": (
        "mnist",
        [
            "CV mean validation MSE",
            "CV best fold test MSE",
            "denoiser PSNR gain",
            "VAE test MSE",
            "VAE Frechet distance",
            "fine-tuned accuracy (CAE)",
            "fine-tuned accuracy (denoiser)",
        ],
    ),
}

CELL_TIMEOUT_S = 300  # a small-budget cell takes seconds; this only catches a hang


def test_every_notebook_is_tested() -> None:
    assert sorted(p.stem for p in NOTEBOOK_DIR.glob("*.ipynb")) == sorted(NOTEBOOKS)


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_notebook_is_stored_with_the_outputs_of_the_medium_budget(name: str) -> None:
    """Opened as stored, a notebook shows its figures and its summary: every code cell ran,
    in order, at the budget its first cell says."""
    notebook = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1))
    assert not any(o.get("output_type") == "error" for c in code for o in c.outputs)
    outputs = [output for cell in code for output in cell.outputs]
    assert sum("image/png" in output.get("data", {}) for output in outputs) >= 3
    assert "UDL_NOTEBOOK_BUDGET=medium" in notebook.cells[0].source
    # udl's numbers are read from the checked-in reproduction, not typed into a table
    introduction = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    assert "reproduce/standard/comparisons.csv" in notebook.cells[0].source
    assert "| udl |" not in introduction
    stdout = "".join(o["text"] for o in outputs if o.get("name") == "stdout")
    assert f"== report {name[-3:]} summary (budget medium) ==" in stdout
    for key in NOTEBOOKS[name][1]:
        assert re.search(rf"^{re.escape(key)}: \S+$", stdout, re.MULTILINE), key


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_notebook_runs_at_the_small_budget(
    name: str,
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    dataset, figures_of_merit = NOTEBOOKS[name]
    request.getfixturevalue(dataset)  # fails, as every data test does, if its files are missing
    # The kernel inherits this environment; the platformdirs setting also keeps jupyter_core
    # from warning about its coming path change.
    monkeypatch.setenv("UDL_DATA_DIR", str(data_dir))
    monkeypatch.setenv("UDL_NOTEBOOK_BUDGET", "small")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(tmp_path)}},  # the kernel's working directory
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on an error

    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    assert any("image/png" in output.get("data", {}) for output in outputs), "no figure shown"
    stdout = "".join(
        output["text"]
        for output in outputs
        if output["output_type"] == "stream" and output["name"] == "stdout"
    )
    assert f"== report {name[-3:]} summary (budget small) ==" in stdout
    for key in figures_of_merit:
        match = re.search(rf"^{re.escape(key)}: (\S+)$", stdout, re.MULTILINE)
        assert match, f"the summary does not print {key!r}:\n{stdout[-2000:]}"
        assert math.isfinite(float(match.group(1))), f"{key}: {match.group(1)}"
