"""udl.figures: every figure renders to a readable PNG through save_figure (atomically), shows
what it claims (labels, legends, annotations, mosaics), needs no pyplot, and rejects bad
input with udl.InvalidArgument."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from PIL import Image

import udl
from udl import InvalidArgument
from udl.figures import (
    confusion_matrix,
    gan_loss_curves,
    image_grid,
    latent_grids_side_by_side,
    loss_curves,
    projection_scatter,
    reconstruction_rows,
    save_figure,
)
from udl.latent import Projection, decode_latent_grid, encode_dataset, project


@pytest.fixture(scope="module")
def trained(small_train: np.ndarray) -> udl.TrainResult:
    """A CAE with a 2-D latent, two epochs on 1024 real images (a fraction of a second)."""
    return udl.train_cae(
        small_train[:1024], nf=8, latent_dim=2, epochs=2, seed=0, threads=1, batch_size=128
    )


@pytest.fixture(scope="module")
def labelled(fashion: udl.datasets.Dataset) -> udl.datasets.ImageSet:
    return udl.datasets.ImageSet(fashion.test.images[:200], fashion.test.labels[:200])


@pytest.fixture(scope="module")
def codes(trained: udl.TrainResult, labelled: udl.datasets.ImageSet) -> np.ndarray:
    return encode_dataset(trained.model, labelled)


def png_size(path: Path) -> tuple[int, int]:
    """The (width, height) of a PNG file, read back by PIL (which checks the format)."""
    assert path.is_file() and path.stat().st_size > 0
    with Image.open(path) as image:
        assert image.format == "PNG"
        image.load()
        return image.size


def render(fig: Figure, folder: Path, name: str = "figure.png") -> tuple[int, int]:
    assert isinstance(fig, Figure)
    width, height = png_size(save_figure(fig, folder / name))
    assert width > 0 and height > 0
    return width, height


def texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]


def rng_images(n: int, *shape: int, dtype: Any = np.uint8) -> np.ndarray:
    rng = np.random.default_rng(0)
    if dtype == np.uint8:
        return rng.integers(0, 256, (n, *shape), dtype=np.uint8)
    return rng.random((n, *shape), dtype=np.float32)


# --- save_figure --------------------------------------------------------------------------


def test_save_figure_creates_folders_and_writes_a_png(tmp_path: Path) -> None:
    fig = image_grid(rng_images(4, 1, 8, 8))
    path = save_figure(fig, tmp_path / "a" / "b" / "grid.png", dpi=50)
    assert path == tmp_path / "a" / "b" / "grid.png"
    small = png_size(path)
    large = png_size(save_figure(fig, tmp_path / "large.png", dpi=100))
    assert large[0] > small[0] and large[1] > small[1]
    assert sorted(p.name for p in (tmp_path / "a" / "b").iterdir()) == ["grid.png"]


def test_save_figure_replaces_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "grid.png"
    path.write_bytes(b"old")
    save_figure(image_grid(rng_images(4, 1, 8, 8)), path)
    png_size(path)
    assert os.listdir(tmp_path) == ["grid.png"]


def test_save_figure_leaves_the_old_file_whole_when_writing_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "grid.png"
    path.write_bytes(b"old")
    fig = image_grid(rng_images(4, 1, 8, 8))

    def fail(stream: Any, **kwargs: Any) -> None:
        stream.write(b"\x89PNG half")
        raise OSError("disk full")

    monkeypatch.setattr(fig, "savefig", fail)
    with pytest.raises(OSError, match="disk full"):
        save_figure(fig, path)
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["grid.png"]  # no temporary file left


def test_save_figure_rejects_a_non_positive_dpi(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="dpi must be a positive number, got 0"):
        save_figure(image_grid(rng_images(4, 1, 8, 8)), tmp_path / "x.png", dpi=0)


def test_save_figure_rejects_what_is_not_a_figure(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="matplotlib Figure, got ndarray"):
        save_figure(np.zeros((2, 2)), tmp_path / "x.png")  # type: ignore[arg-type]


def test_figures_need_no_pyplot(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        import numpy as np
        from udl import figures
        fig = figures.image_grid(np.zeros((4, 1, 8, 8), np.uint8))
        figures.save_figure(fig, {str(tmp_path / "x.png")!r})
        assert "matplotlib.pyplot" not in sys.modules, "pyplot was imported"
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    png_size(tmp_path / "x.png")


# --- loss_curves --------------------------------------------------------------------------


def test_loss_curves_from_a_history_marks_the_best_epoch(
    trained: udl.TrainResult, tmp_path: Path
) -> None:
    fig = loss_curves(trained.history, title="report 000")
    render(fig, tmp_path)
    (ax,) = fig.axes
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:2] == ["training loss", "validation loss"]
    assert legend[2].startswith(f"best epoch {trained.best_epoch} ")
    assert ax.get_title() == "report 000"
    train_line, val_line = ax.get_lines()[:2]
    assert list(train_line.get_xdata()) == [1, 2]
    np.testing.assert_allclose(val_line.get_ydata(), [r.val_loss for r in trained.history])


def test_loss_curves_from_a_data_frame_with_a_log_axis(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "epoch": [1, 2, 3, 4],
            "train_loss": [0.5, 0.2, 0.1, 0.09],
            "val_loss": [0.6, 0.3, 0.2, 0.25],
        }
    )
    fig = loss_curves(frame, log_y=True)
    render(fig, tmp_path)
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    assert ax.get_legend().get_texts()[2].get_text() == "best epoch 3 (val 0.2)"


def test_loss_curves_of_a_diverged_run(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"epoch": [1, 2], "train_loss": [0.5, float("nan")], "val_loss": [0.4, float("inf")]}
    )
    fig = loss_curves(frame)
    render(fig, tmp_path)
    assert "best epoch 1 (val 0.4)" in texts(fig)


def test_loss_curves_rejects_an_empty_history() -> None:
    with pytest.raises(InvalidArgument, match="history is empty"):
        loss_curves([])


def test_loss_curves_rejects_records_without_the_fields() -> None:
    with pytest.raises(InvalidArgument, match="int has no epoch, train_loss, val_loss"):
        loss_curves([1, 2])


def test_gan_loss_curves_draw_both_networks(tmp_path: Path) -> None:
    history = [
        udl.GanEpochRecord(
            epoch=e, generator_loss=g, discriminator_loss=d, real_score=0.6, fake_score=0.4
        )
        for e, g, d in [(1, 1.5, 0.6), (2, 1.1, 0.9), (3, 0.9, 1.2)]
    ]
    fig = gan_loss_curves(history, title="report 003")
    render(fig, tmp_path)
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["generator", "discriminator"]
    generator, discriminator = ax.get_lines()
    assert list(generator.get_xdata()) == [1, 2, 3]
    np.testing.assert_allclose(discriminator.get_ydata(), [0.6, 0.9, 1.2])
    assert ax.get_title() == "report 003"


def test_gan_loss_curves_reject_an_autoencoders_history_and_an_empty_one(
    trained: udl.TrainResult,
) -> None:
    with pytest.raises(InvalidArgument, match="EpochRecord has no generator_loss"):
        gan_loss_curves(trained.history)
    with pytest.raises(InvalidArgument, match="history is empty"):
        gan_loss_curves([])


def test_loss_curves_rejects_a_frame_without_the_columns() -> None:
    with pytest.raises(InvalidArgument, match="no column val_loss"):
        loss_curves(pd.DataFrame({"epoch": [1], "train_loss": [0.1]}))


def test_loss_curves_rejects_repeated_epochs() -> None:
    frame = pd.DataFrame({"epoch": [1, 2, 1, 2], "train_loss": [1.0] * 4, "val_loss": [1.0] * 4})
    with pytest.raises(InvalidArgument, match="repeats epochs"):
        loss_curves(frame)


def test_loss_curves_rejects_a_log_axis_for_non_positive_losses() -> None:
    frame = pd.DataFrame({"epoch": [1, 2], "train_loss": [0.5, 0.0], "val_loss": [0.4, 0.3]})
    with pytest.raises(InvalidArgument, match="log_y needs positive losses"):
        loss_curves(frame, log_y=True)


# --- reconstruction_rows ------------------------------------------------------------------


def test_reconstruction_rows_label_each_row(
    trained: udl.TrainResult, labelled: udl.datasets.ImageSet, tmp_path: Path
) -> None:
    originals = labelled.images[:6]
    reconstructed = trained.model.reconstruct(originals)
    fig = reconstruction_rows(originals, {"epoch 1": reconstructed, "epoch 2": reconstructed})
    render(fig, tmp_path)
    assert [ax.get_ylabel() for ax in fig.axes] == ["original", "epoch 1", "epoch 2"]
    strip = fig.axes[0].images[0].get_array()
    assert strip.shape == (28, 6 * 29 - 1)
    np.testing.assert_allclose(strip[:, :28], originals[0, 0] / 255, atol=1e-6)
    np.testing.assert_allclose(fig.axes[1].images[0].get_array()[:, 29:57], reconstructed[1, 0])


def test_reconstruction_rows_reject_a_row_of_other_images(
    labelled: udl.datasets.ImageSet,
) -> None:
    with pytest.raises(InvalidArgument, match="row 'epoch 1' has images of shape"):
        reconstruction_rows(labelled.images[:6], {"epoch 1": labelled.images[:5]})


def test_reconstruction_rows_reject_no_rows(labelled: udl.datasets.ImageSet) -> None:
    with pytest.raises(InvalidArgument, match="rows is empty"):
        reconstruction_rows(labelled.images[:6], {})


# --- image_grid ---------------------------------------------------------------------------


def test_image_grid_of_a_decoded_latent_grid(
    trained: udl.TrainResult, codes: np.ndarray, tmp_path: Path
) -> None:
    images = decode_latent_grid(trained.model, codes, 5)
    fig = image_grid(images, ncols=5, title="latent plane")
    render(fig, tmp_path)
    mosaic = fig.axes[0].images[0].get_array()
    assert mosaic.shape == (5 * 29 - 1, 5 * 29 - 1)
    np.testing.assert_allclose(mosaic[29:57, 58:86], images[7, 0])  # row 1, column 2
    assert fig.axes[0].get_title() == "latent plane"


def test_image_grid_defaults_to_a_square_and_accepts_h_w_images(tmp_path: Path) -> None:
    fig = image_grid(rng_images(10, 8, 8))  # N x H x W, ceil(sqrt(10)) = 4 to a row
    render(fig, tmp_path)
    assert fig.axes[0].images[0].get_array().shape == (3 * 9 - 1, 4 * 9 - 1)


def test_image_grid_shows_three_channels_as_rgb(tmp_path: Path) -> None:
    images = rng_images(4, 3, 8, 8, dtype=np.float32)
    fig = image_grid(images, ncols=2)
    render(fig, tmp_path)
    mosaic = fig.axes[0].images[0].get_array()
    assert mosaic.shape == (17, 17, 3)
    np.testing.assert_allclose(mosaic[:8, 9:], np.moveaxis(images[1], 0, -1))


def test_image_grid_rescales_a_value_range(tmp_path: Path) -> None:
    images = np.linspace(-1, 1, 4 * 64, dtype=np.float32).reshape(4, 1, 8, 8)
    fig = image_grid(images, value_range=(-1, 1))
    render(fig, tmp_path)
    mosaic = fig.axes[0].images[0].get_array()
    assert mosaic[0, 0] == 0 and mosaic[-1, -1] == pytest.approx(1)


def test_image_grid_rejects_no_images() -> None:
    with pytest.raises(InvalidArgument, match="images is empty"):
        image_grid(np.zeros((0, 1, 8, 8), np.uint8))


@pytest.mark.parametrize("shape", [(8, 8), (2, 1, 1, 8, 8)], ids=["2d", "5d"])
def test_image_grid_rejects_the_wrong_dimension(shape: tuple[int, ...]) -> None:
    with pytest.raises(InvalidArgument, match="N x C x H x W or N x H x W, got shape"):
        image_grid(np.zeros(shape, np.uint8))


def test_image_grid_rejects_two_channels() -> None:
    with pytest.raises(InvalidArgument, match=r"1 \(grey\) or 3 \(RGB\) channels, got 2"):
        image_grid(np.zeros((4, 2, 8, 8), np.uint8))


def test_image_grid_rejects_floats_outside_the_value_range() -> None:
    images = np.full((4, 1, 8, 8), -0.5, np.float32)
    with pytest.raises(InvalidArgument, match=r"outside value_range \[0, 1\]"):
        image_grid(images)


def test_image_grid_rejects_integers_other_than_uint8() -> None:
    with pytest.raises(InvalidArgument, match="uint8 or floating point, got int64"):
        image_grid(np.zeros((4, 1, 8, 8), np.int64))


def test_image_grid_rejects_a_non_positive_ncols() -> None:
    with pytest.raises(InvalidArgument, match="ncols must be a positive integer, got 0"):
        image_grid(rng_images(4, 1, 8, 8), ncols=0)


# --- projection_scatter -------------------------------------------------------------------


def test_pca_scatter_names_classes_and_variance(
    codes: np.ndarray,
    labelled: udl.datasets.ImageSet,
    fashion: udl.datasets.Dataset,
    tmp_path: Path,
) -> None:
    projection = project(codes, "pca")
    fig = projection_scatter(projection, labelled.labels, fashion.class_names, title="PCA")
    render(fig, tmp_path)
    (ax,) = fig.axes
    ratio = projection.explained_variance_ratio
    assert ratio is not None
    assert ax.get_xlabel() == f"PC1 ({ratio[0]:.1%} of variance)"
    assert ax.get_ylabel() == f"PC2 ({ratio[1]:.1%} of variance)"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [fashion.class_names[c] for c in np.unique(labelled.labels)]
    assert sum(len(c.get_offsets()) for c in ax.collections) == len(codes)


def test_scatter_of_a_subsample_picks_its_labels(
    codes: np.ndarray, labelled: udl.datasets.ImageSet, tmp_path: Path
) -> None:
    projection = project(codes, "tsne", perplexity=5.0, max_points=40, seed=1, max_iter=250)
    fig = projection_scatter(projection, labelled.labels)  # the labels of all 200 codes
    render(fig, tmp_path)
    (ax,) = fig.axes
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("t-SNE 1", "t-SNE 2")
    assert projection.indices is not None
    picked = labelled.labels[projection.indices]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [str(c) for c in np.unique(picked)]
    for collection, c in zip(ax.collections, np.unique(picked), strict=True):
        expected = projection.points[picked == c]
        np.testing.assert_allclose(np.asarray(collection.get_offsets()), expected)


def test_scatter_without_labels(codes: np.ndarray, tmp_path: Path) -> None:
    fig = projection_scatter(project(codes), None)
    render(fig, tmp_path)
    assert fig.axes[0].get_legend() is None


def test_scatter_rejects_labels_of_another_length(
    codes: np.ndarray, labelled: udl.datasets.ImageSet
) -> None:
    with pytest.raises(InvalidArgument, match="199 labels for the 200 codes projected"):
        projection_scatter(project(codes), labelled.labels[:199])


def test_scatter_rejects_a_label_without_a_class_name(
    codes: np.ndarray, labelled: udl.datasets.ImageSet
) -> None:
    with pytest.raises(InvalidArgument, match="has no class name: 3 class names given"):
        projection_scatter(project(codes), labelled.labels, ["a", "b", "c"])


def test_scatter_rejects_points_that_are_not_n_by_2() -> None:
    projection = Projection(np.zeros((5, 3)), "pca")
    with pytest.raises(InvalidArgument, match=r"N x 2 with N > 0, got \(5, 3\)"):
        projection_scatter(projection, None)


# --- latent_grids_side_by_side ------------------------------------------------------------


def test_latent_grids_side_by_side(
    trained: udl.TrainResult, codes: np.ndarray, tmp_path: Path
) -> None:
    grid = decode_latent_grid(trained.model, codes, 4)
    fig = latent_grids_side_by_side({"CAE": grid, "VAE": grid[:, 0]}, 4, title="latent planes")
    width, height = render(fig, tmp_path)
    assert width > height
    assert [ax.get_title() for ax in fig.axes] == ["CAE", "VAE"]
    for ax in fig.axes:
        assert ax.images[0].get_array().shape == (4 * 29 - 1, 4 * 29 - 1)


def test_latent_grids_reject_a_grid_of_the_wrong_size(
    trained: udl.TrainResult, codes: np.ndarray
) -> None:
    grid = decode_latent_grid(trained.model, codes, 4)
    with pytest.raises(InvalidArgument, match="grid 'VAE' has 15 images, a 4 x 4 grid needs 16"):
        latent_grids_side_by_side({"CAE": grid, "VAE": grid[:15]}, 4)


def test_latent_grids_reject_no_grids() -> None:
    with pytest.raises(InvalidArgument, match="grids is empty"):
        latent_grids_side_by_side({}, 4)


# --- confusion_matrix ---------------------------------------------------------------------


def test_confusion_matrix_normalized_annotations(tmp_path: Path) -> None:
    matrix = np.array([[8, 2, 0], [1, 1, 2], [0, 0, 0]])
    fig = confusion_matrix(matrix, ["cat", "dog", "owl"])
    render(fig, tmp_path)
    ax = fig.axes[0]
    cells = [t.get_text() for t in ax.texts]
    assert cells == ["0.80", "0.20", "0.00", "0.25", "0.25", "0.50", "0.00", "0.00", "0.00"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog", "owl"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cat", "dog", "owl"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted", "true")


def test_confusion_matrix_counts(tmp_path: Path) -> None:
    matrix = np.arange(16).reshape(4, 4)
    fig = confusion_matrix(matrix, normalize=False)
    render(fig, tmp_path)
    assert [t.get_text() for t in fig.axes[0].texts] == [str(v) for v in range(16)]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["0", "1", "2", "3"]


def test_confusion_matrix_rejects_a_non_square_matrix() -> None:
    with pytest.raises(InvalidArgument, match=r"square K x K with K > 0, got shape \(2, 3\)"):
        confusion_matrix(np.zeros((2, 3)))


def test_confusion_matrix_rejects_an_empty_matrix() -> None:
    with pytest.raises(InvalidArgument, match=r"got shape \(0, 0\)"):
        confusion_matrix(np.zeros((0, 0)))


def test_confusion_matrix_rejects_negative_counts() -> None:
    with pytest.raises(InvalidArgument, match="finite and >= 0"):
        confusion_matrix(np.array([[1, -1], [0, 1]]))


def test_confusion_matrix_rejects_a_class_name_count_that_differs() -> None:
    with pytest.raises(InvalidArgument, match="2 class names for a 3 x 3 matrix"):
        confusion_matrix(np.eye(3), ["a", "b"])


def test_saved_figure_has_a_plain_files_permissions(tmp_path: Path) -> None:
    fig = Figure()
    fig.add_subplot().plot([0, 1], [1, 0])
    path = save_figure(fig, tmp_path / "plot.png")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
