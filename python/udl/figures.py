"""The reports' figures: loss curves, reconstructions, image mosaics, latent projections and
grids, confusion matrices.

Every function builds and returns a `matplotlib.figure.Figure` without pyplot: no GUI
backend, no global figure registry, nothing to close. Write one with `save_figure` (a PNG,
replaced atomically), or show it in a notebook by evaluating it.
"""

from __future__ import annotations

import math
import numbers
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from udl import errors
from udl.latent import Projection

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "confusion_matrix",
    "gan_loss_curves",
    "image_grid",
    "latent_grids_side_by_side",
    "loss_curves",
    "projection_scatter",
    "reconstruction_rows",
    "save_figure",
]

ValueRange = tuple[float, float]


def _new_figure(**kwargs: Any) -> Figure:
    """A matplotlib Figure (matplotlib is imported on the first figure, not with udl)."""
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def save_figure(fig: Figure, path: str | os.PathLike[str], *, dpi: int = 100) -> Path:
    """Writes a figure as a PNG file, atomically.

    The PNG is written to a temporary file in the destination folder and renamed over
    `path`, so an existing file is replaced whole or not at all. Missing parent folders are
    created.

    Args:
        fig: the figure.
        path: where to write it (PNG whatever the suffix).
        dpi: resolution in dots per inch, > 0.

    Returns:
        The path written.

    Raises:
        TypeError: if `fig` is not a matplotlib Figure.
        udl.InvalidArgument: for a non-positive dpi.
    """
    from matplotlib.figure import Figure

    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    if isinstance(dpi, bool) or not isinstance(dpi, numbers.Real) or not dpi > 0:
        raise errors.InvalidArgument(f"dpi must be a positive number, got {dpi!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as stream:
            fig.savefig(stream, format="png", dpi=dpi, bbox_inches="tight")
        # mkstemp makes the file private (0600); a figure gets a plain file's permissions.
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def loss_curves(history: Any, *, title: str | None = None, log_y: bool = False) -> Figure:
    """Training and validation loss per epoch, with the best epoch marked.

    Args:
        history: a sequence of records with attributes ``epoch``, ``train_loss`` and
            ``val_loss`` (e.g. `TrainResult.history`), or a pandas DataFrame with those
            columns; one run (one fold), each epoch once.
        title: the figure's title.
        log_y: a logarithmic loss axis (all losses must then be > 0).

    Returns:
        The figure; the best epoch (lowest finite validation loss) carries a marker and a
        dashed vertical line, named in the legend.

    Raises:
        udl.InvalidArgument: for an empty history, missing fields, repeated epochs (several
            folds mixed), or log_y with a non-positive loss.
    """
    epochs, train, val = _history_columns(history)
    if log_y:
        finite = np.concatenate([train[np.isfinite(train)], val[np.isfinite(val)]])
        if finite.size and finite.min() <= 0:
            raise errors.InvalidArgument(
                f"log_y needs positive losses, got a minimum of {finite.min()}"
            )
    fig = _new_figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(epochs, train, marker="o", markersize=3, label="training loss")
    ax.plot(epochs, val, marker="o", markersize=3, label="validation loss")
    if np.isfinite(val).any():
        best = int(np.nanargmin(np.where(np.isfinite(val), val, np.nan)))
        ax.axvline(epochs[best], color="0.5", linestyle="--", linewidth=1)
        ax.plot(
            [epochs[best]],
            [val[best]],
            marker="*",
            markersize=12,
            color="C3",
            linestyle="none",
            label=f"best epoch {int(epochs[best])} (val {val[best]:.4g})",
        )
    if log_y:
        ax.set_yscale("log")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend()
    if title:
        ax.set_title(title)
    return fig


def gan_loss_curves(history: Any, *, title: str | None = None) -> Figure:
    """A GAN's generator and discriminator loss per epoch (report 000's and 003's figure).

    Args:
        history: `GanResult.history`: records with ``epoch``, ``generator_loss`` and
            ``discriminator_loss``.
        title: the figure's title.

    Raises:
        udl.InvalidArgument: for an empty history or records without those fields.
    """
    records = list(history)
    if not records:
        raise errors.InvalidArgument("the history is empty: train at least one epoch")
    fields = ("epoch", "generator_loss", "discriminator_loss")
    missing = [f for f in fields if not hasattr(records[0], f)]
    if missing:
        raise errors.InvalidArgument(
            f"GAN history records need {', '.join(fields)}; "
            f"{type(records[0]).__name__} has no {', '.join(missing)}"
        )
    epochs = [r.epoch for r in records]
    fig = _new_figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(
        epochs, [r.generator_loss for r in records], marker="o", markersize=3, label="generator"
    )
    ax.plot(
        epochs,
        [r.discriminator_loss for r in records],
        marker="o",
        markersize=3,
        label="discriminator",
    )
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (the discriminator's includes any R1 penalty)")
    ax.legend()
    if title:
        ax.set_title(title)
    return fig


def reconstruction_rows(
    originals: np.ndarray,
    rows: Mapping[str, np.ndarray],
    *,
    title: str | None = None,
    value_range: ValueRange = (0.0, 1.0),
) -> Figure:
    """The same images and their reconstructions, one labelled row per model or epoch.

    Args:
        originals: N x C x H x W or N x H x W images (uint8, or float in `value_range`).
        rows: label -> reconstructions of the same N images (same shape), e.g.
            ``{"epoch 1": ..., "epoch 10": ...}``; rows appear in the mapping's order.
        title: the figure's title.
        value_range: the range of float images (uint8 images are 0..255).

    Returns:
        The figure: the originals on top ("original"), then each row under its label.

    Raises:
        udl.InvalidArgument: for empty or ill-shaped images, no rows, or a row whose shape
            differs from the originals'.
    """
    top = _display_images(originals, value_range, "originals")
    if not rows:
        raise errors.InvalidArgument("rows is empty: give at least one row of reconstructions")
    strips = [("original", top)]
    for label, images in rows.items():
        shown = _display_images(images, value_range, f"row {label!r}")
        if shown.shape != top.shape:
            raise errors.InvalidArgument(
                f"row {label!r} has images of shape {np.shape(images)}, the originals "
                f"{np.shape(originals)}: each row must reconstruct the same images"
            )
        strips.append((str(label), shown))
    n, height, width = top.shape[:3]
    fig = _new_figure(
        figsize=(min(16.0, 1.0 + 0.6 * n * width / height), 0.7 * len(strips) + 0.5),
        layout="constrained",
    )
    axes = fig.subplots(len(strips), 1, squeeze=False)[:, 0]
    for ax, (label, images) in zip(axes, strips, strict=True):
        _show(ax, _mosaic(images, ncols=n))
        ax.set_ylabel(label, rotation=0, ha="right", va="center")
    if title:
        fig.suptitle(title)
    return fig


def image_grid(
    images: np.ndarray,
    *,
    ncols: int | None = None,
    title: str | None = None,
    value_range: ValueRange = (0.0, 1.0),
) -> Figure:
    """A mosaic of images: a decoded latent grid, VAE or GAN samples.

    Args:
        images: N x C x H x W (C = 1 grey, C = 3 RGB) or N x H x W images, uint8 (0..255) or
            float in `value_range`.
        ncols: images per row, > 0; defaults to ceil(sqrt(N)). Use ``steps`` for a latent
            grid.
        title: the figure's title.
        value_range: the range of float images, e.g. (-1, 1) for a tanh generator's.

    Returns:
        The figure, one axes showing the mosaic (the last row may be incomplete).

    Raises:
        udl.InvalidArgument: for empty or ill-shaped images, another channel count, floats
            outside `value_range`, or a non-positive ncols.
    """
    shown = _display_images(images, value_range, "images")
    n, height, width = shown.shape[:3]
    if ncols is None:
        ncols = math.ceil(math.sqrt(n))
    ncols = _positive_int(ncols, "ncols")
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    scale = 6.0 / max(ncols * width, nrows * height)
    fig = _new_figure(
        figsize=(max(2.0, ncols * width * scale), max(2.0, nrows * height * scale) + 0.4),
        layout="constrained",
    )
    ax = fig.add_subplot()
    _show(ax, _mosaic(shown, ncols))
    if title:
        ax.set_title(title)
    return fig


def projection_scatter(
    projection: Projection,
    labels: np.ndarray | Sequence[int] | None,
    class_names: Sequence[str] | None = None,
    *,
    title: str | None = None,
) -> Figure:
    """A 2-D projection of latent codes, coloured by class.

    Args:
        projection: from `udl.latent.project`.
        labels: the integer labels of the codes given to `project` (all of them: the
            projection's `indices` pick those of a subsample), or None for one colour.
        class_names: the legend's names of the classes (label i is ``class_names[i]``);
            defaults to the label numbers.
        title: the axes' title.

    Returns:
        The figure; PCA axes read "PC1 (xx.x% of variance)", t-SNE axes "t-SNE 1/2".

    Raises:
        udl.InvalidArgument: for a projection without N x 2 finite points, labels whose
            count does not match the codes projected, negative or non-integer labels, or a
            label with no class name.
    """
    if not isinstance(projection, Projection):
        raise TypeError(f"projection must be a udl.latent.Projection, got {type(projection)}")
    points = np.asarray(projection.points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] == 0:
        raise errors.InvalidArgument(
            f"projection points must be N x 2 with N > 0, got {points.shape}"
        )
    if not np.isfinite(points).all():
        raise errors.InvalidArgument("projection points contain NaN or infinite values")
    fig = _new_figure(figsize=(6.5, 5), layout="constrained")
    ax = fig.add_subplot()
    size = 4 if len(points) > 2000 else 10
    if labels is None:
        if class_names is not None:
            raise errors.InvalidArgument("class_names were given without labels")
        ax.scatter(points[:, 0], points[:, 1], s=size, alpha=0.7, linewidths=0)
    else:
        shown = _projection_labels(projection, labels)
        classes = np.unique(shown)
        if class_names is not None:
            names = [str(n) for n in class_names]
            if classes.max() >= len(names):
                raise errors.InvalidArgument(
                    f"label {classes.max()} has no class name: {len(names)} class names given"
                )
        else:
            names = [str(c) for c in range(int(classes.max()) + 1)]
        count = int(classes.max()) + 1
        from matplotlib import colormaps

        cmap = colormaps["tab10" if count <= 10 else "tab20" if count <= 20 else "turbo"]
        for c in classes:
            mask = shown == c
            colour = cmap(c % cmap.N) if count <= 20 else cmap(c / max(count - 1, 1))
            ax.scatter(
                points[mask, 0],
                points[mask, 1],
                s=size,
                alpha=0.7,
                linewidths=0,
                color=colour,
                label=names[c],
            )
        ax.legend(markerscale=2.5, fontsize="small", loc="center left", bbox_to_anchor=(1, 0.5))
    if projection.method == "pca" and projection.explained_variance_ratio is not None:
        r1, r2 = projection.explained_variance_ratio[:2]
        axes = (f"PC1 ({r1:.1%} of variance)", f"PC2 ({r2:.1%} of variance)")
    else:
        axes = ("PC1", "PC2") if projection.method == "pca" else ("t-SNE 1", "t-SNE 2")
    ax.set(xlabel=axes[0], ylabel=axes[1], title=title or "")
    return fig


def latent_grids_side_by_side(
    grids: Mapping[str, np.ndarray],
    steps: int,
    *,
    title: str | None = None,
    value_range: ValueRange = (0.0, 1.0),
) -> Figure:
    """Decoded latent grids of several models side by side, e.g. ``{"CAE": .., "VAE": ..}``.

    Args:
        grids: name -> (steps * steps) images from `udl.latent.decode_latent_grid`
            (N x C x H x W or N x H x W), shown in the mapping's order.
        steps: points per axis of each grid, >= 2.
        title: the figure's title.
        value_range: the range of float images.

    Returns:
        The figure, one titled mosaic per model (z0 rightward, z1 upward).

    Raises:
        udl.InvalidArgument: for no grids, steps < 2, or a grid that does not hold
            steps * steps valid images.
    """
    steps = _positive_int(steps, "steps")
    if steps < 2:
        raise errors.InvalidArgument(f"steps must be >= 2, got {steps}")
    if not grids:
        raise errors.InvalidArgument("grids is empty: give at least one decoded latent grid")
    mosaics = []
    for name, images in grids.items():
        shown = _display_images(images, value_range, f"grid {name!r}")
        if shown.shape[0] != steps * steps:
            raise errors.InvalidArgument(
                f"grid {name!r} has {shown.shape[0]} images, a {steps} x {steps} grid needs "
                f"{steps * steps}"
            )
        mosaics.append((str(name), _mosaic(shown, steps)))
    fig = _new_figure(figsize=(4.5 * len(mosaics), 4.9), layout="constrained")
    axes = fig.subplots(1, len(mosaics), squeeze=False)[0]
    for ax, (name, mosaic) in zip(axes, mosaics, strict=True):
        _show(ax, mosaic)
        ax.set(title=name, xlabel="z0 →", ylabel="z1 →")
    if title:
        fig.suptitle(title)
    return fig


def confusion_matrix(
    matrix: np.ndarray,
    class_names: Sequence[str] | None = None,
    *,
    normalize: bool = True,
    title: str | None = None,
) -> Figure:
    """A confusion matrix as an annotated heatmap (rows: true class, columns: predicted).

    Args:
        matrix: K x K non-negative counts, ``matrix[i, j]`` the items of class i predicted
            as j (e.g. `sklearn.metrics.confusion_matrix`'s).
        class_names: the K class names; defaults to 0..K-1.
        normalize: show each row as fractions of its total (a row of zeros stays zeros)
            instead of counts.
        title: the axes' title.

    Returns:
        The figure, each cell annotated with its count or fraction.

    Raises:
        udl.InvalidArgument: for a matrix that is not square, empty, not finite or has
            negative entries, or a number of class names other than K.
    """
    array = np.asarray(matrix)
    if array.ndim != 2 or array.shape[0] != array.shape[1] or array.shape[0] == 0:
        raise errors.InvalidArgument(
            f"matrix must be square K x K with K > 0, got shape {array.shape}"
        )
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise errors.InvalidArgument(f"matrix must hold numbers, got dtype {array.dtype}")
    if not np.isfinite(array).all() or array.min() < 0:
        raise errors.InvalidArgument("matrix entries must be finite and >= 0")
    k = array.shape[0]
    names = [str(i) for i in range(k)] if class_names is None else [str(n) for n in class_names]
    if len(names) != k:
        raise errors.InvalidArgument(f"{len(names)} class names for a {k} x {k} matrix")
    values = array.astype(np.float64)
    if normalize:
        totals = values.sum(axis=1, keepdims=True)
        values = np.divide(values, totals, out=np.zeros_like(values), where=totals > 0)
    integral = not normalize and np.all(values == np.round(values))
    side = max(4.0, 0.55 * k + 2.5)
    fig = _new_figure(figsize=(side + 1.0, side), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(values, cmap="Blues", vmin=0, vmax=1 if normalize else max(values.max(), 1))
    fig.colorbar(image, ax=ax, label="fraction of the true class" if normalize else "count")
    threshold = (1 if normalize else max(values.max(), 1)) / 2
    fontsize = 8 if k <= 12 else 6
    for i in range(k):
        for j in range(k):
            text = f"{values[i, j]:.0f}" if integral else f"{values[i, j]:.2f}"
            colour = "white" if values[i, j] > threshold else "black"
            ax.text(j, i, text, ha="center", va="center", color=colour, fontsize=fontsize)
    ax.set_xticks(range(k), names, rotation=45, ha="right")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    return fig


# --- helpers --------------------------------------------------------------------------------


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise errors.InvalidArgument(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _history_columns(history: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    fields = ("epoch", "train_loss", "val_loss")
    pandas = sys.modules.get("pandas")  # never imported: the history is no DataFrame
    if pandas is not None and isinstance(history, pandas.DataFrame):
        missing = [f for f in fields if f not in history.columns]
        if missing:
            raise errors.InvalidArgument(f"the history has no column {', '.join(missing)}")
        columns = [history[f].to_numpy() for f in fields]
    else:
        records = list(history)
        if records:
            missing = [f for f in fields if not hasattr(records[0], f)]
            if missing:
                raise errors.InvalidArgument(
                    f"history records need attributes epoch, train_loss and val_loss; "
                    f"{type(records[0]).__name__} has no {', '.join(missing)}"
                )
        columns = [[getattr(r, f) for r in records] for f in fields]
    epochs = np.asarray(columns[0])
    if epochs.size == 0:
        raise errors.InvalidArgument("the history is empty: nothing to plot")
    if len(np.unique(epochs)) != len(epochs):
        raise errors.InvalidArgument(
            "the history repeats epochs (several folds or runs mixed?); plot one run at a time"
        )
    order = np.argsort(epochs, kind="stable")
    train = np.asarray(columns[1], dtype=np.float64)[order]
    val = np.asarray(columns[2], dtype=np.float64)[order]
    return epochs[order], train, val


def _display_images(images: Any, value_range: ValueRange, what: str) -> np.ndarray:
    """N x H x W (grey) or N x H x W x 3 (RGB) floats in [0, 1]."""
    if hasattr(images, "detach") and hasattr(images, "cpu"):  # a torch tensor
        images = images.detach().cpu().numpy()
    array = np.asarray(images)
    if array.ndim == 3:
        array = array[:, None]
    if array.ndim != 4:
        raise errors.InvalidArgument(
            f"{what} must be N x C x H x W or N x H x W, got shape {array.shape}"
        )
    if array.shape[0] == 0 or array.shape[2] == 0 or array.shape[3] == 0:
        raise errors.InvalidArgument(f"{what} is empty (shape {array.shape})")
    if array.shape[1] not in (1, 3):
        raise errors.InvalidArgument(
            f"{what} must have 1 (grey) or 3 (RGB) channels, got {array.shape[1]} "
            f"(shape {array.shape})"
        )
    if array.dtype == np.uint8:
        scaled = array.astype(np.float32) / 255
    elif np.issubdtype(array.dtype, np.floating):
        if len(value_range) != 2 or not value_range[0] < value_range[1]:
            raise errors.InvalidArgument(
                f"value_range must be (low, high), low < high: {value_range}"
            )
        low, high = float(value_range[0]), float(value_range[1])
        if not np.isfinite(array).all():
            raise errors.InvalidArgument(f"{what} contain NaN or infinite values")
        tolerance = 1e-6 * (high - low)
        if array.min() < low - tolerance or array.max() > high + tolerance:
            raise errors.InvalidArgument(
                f"{what} lie in [{array.min():.3g}, {array.max():.3g}], outside value_range "
                f"[{low:g}, {high:g}]; pass value_range=(low, high) for other ranges"
            )
        scaled = np.clip((array.astype(np.float32) - low) / (high - low), 0, 1)
    else:
        raise errors.InvalidArgument(f"{what} must be uint8 or floating point, got {array.dtype}")
    if scaled.shape[1] == 1:
        return scaled[:, 0]
    return np.moveaxis(scaled, 1, -1)


def _mosaic(images: np.ndarray, ncols: int, pad: int = 1) -> np.ndarray:
    """Tiles N x H x W (x 3) images, ncols to a row, with `pad` white pixels between."""
    n, height, width = images.shape[:3]
    nrows = math.ceil(n / ncols)
    shape = (nrows * (height + pad) - pad, ncols * (width + pad) - pad, *images.shape[3:])
    canvas = np.ones(shape, dtype=np.float32)
    for i in range(n):
        r, c = divmod(i, ncols)
        top, left = r * (height + pad), c * (width + pad)
        canvas[top : top + height, left : left + width] = images[i]
    return canvas


def _show(ax: Axes, mosaic: np.ndarray) -> None:
    if mosaic.ndim == 2:
        ax.imshow(mosaic, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        ax.imshow(mosaic, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def _projection_labels(projection: Projection, labels: Any) -> np.ndarray:
    """The labels of the projected points: `labels` of all codes, picked by the indices."""
    if hasattr(labels, "detach") and hasattr(labels, "cpu"):  # a torch tensor
        labels = labels.detach().cpu().numpy()
    array = np.asarray(labels)
    if array.ndim != 1:
        raise errors.InvalidArgument(f"labels must be 1-D, got shape {array.shape}")
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer):
        raise errors.InvalidArgument(f"labels must be integers, got dtype {array.dtype}")
    n_points = len(projection.points)
    indices = projection.indices
    if indices is None:
        expected = n_points
    else:
        indices = np.asarray(indices)
        if indices.shape != (n_points,):
            raise errors.InvalidArgument(
                f"the projection has {n_points} points but {indices.shape} indices"
            )
        expected = projection.n_codes
        if expected is None:
            expected = max(int(indices.max()) + 1, n_points)
    if indices is None or projection.n_codes is not None:
        if len(array) != expected:
            raise errors.InvalidArgument(
                f"{len(array)} labels for the {expected} codes projected: the counts must match"
            )
    elif len(array) < expected:
        raise errors.InvalidArgument(
            f"{len(array)} labels, but the projection uses code {int(indices.max())}: give the "
            "labels of all the codes projected"
        )
    if len(array) and array.min() < 0:
        raise errors.InvalidArgument(f"labels must be >= 0, got {array.min()}")
    return array if indices is None else array[indices]
