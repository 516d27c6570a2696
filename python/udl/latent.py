"""Latent-space analysis: encode whole datasets, tabulate and project the codes, walk the
latent plane (reports 000, 002 and 003).

Everything here works on NumPy arrays and on any model that has ``encode(images)`` and
``decode(codes)`` returning NumPy arrays (a `udl.Autoencoder`, or a wrapper whose ``encode``
answers a VAE's means). Projections use scikit-learn's PCA and t-SNE.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from udl import errors

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Projection",
    "decode_latent_grid",
    "encode_dataset",
    "interpolate",
    "latent_frame",
    "latent_grid",
    "project",
]

PROJECTION_METHODS = ("pca", "tsne")


class Encoder(Protocol):
    """Anything with ``encode(images) -> codes`` (N x C x H x W in, N x latent out)."""

    def encode(self, images: Any) -> Any: ...


class Decoder(Protocol):
    """Anything with ``decode(codes) -> images`` (N x latent in, N x C x H x W out)."""

    def decode(self, codes: Any) -> Any: ...


class EncoderDecoder(Encoder, Decoder, Protocol):
    """A model that both encodes and decodes."""


@dataclass(frozen=True, eq=False)
class Projection:
    """Latent codes projected to two dimensions.

    Attributes:
        points: N x 2 float64 coordinates, one row per projected code.
        method: "pca" or "tsne".
        explained_variance_ratio: for PCA, the share of the codes' variance along each of
            the two components (decreasing); None for t-SNE.
        indices: for each row of `points`, the row of the codes it comes from (increasing);
            all rows unless `project` subsampled with `max_points`. Index the labels with it.
        n_codes: how many codes were given to `project` (labels must have this length).
    """

    points: np.ndarray
    method: Literal["pca", "tsne"]
    explained_variance_ratio: tuple[float, float] | None = None
    indices: np.ndarray | None = None
    n_codes: int | None = None

    def __len__(self) -> int:
        return int(self.points.shape[0])


def encode_dataset(model: Encoder, data: Any, *, batch_size: int = 1024) -> np.ndarray:
    """Encodes every image of a dataset, a batch at a time.

    Args:
        model: anything with ``encode(images) -> np.ndarray`` (e.g. `udl.Autoencoder`; a VAE
            wrapper answering its means).
        data: a `udl.datasets.ImageSet`, or an image array (uint8 0..255 or float in [0, 1],
            N x C x H x W, or N x H x W for one channel; a torch tensor is accepted too).
        batch_size: images per call to ``model.encode``, > 0; bounds the memory used.

    Returns:
        The codes, float32, N x latent_dim, in the order of the images.

    Raises:
        udl.InvalidArgument: for an empty dataset, images that are not 3-D or 4-D, a
            non-positive batch size, or an encoder that answers something other than one
            row of codes per image.
    """
    batch_size = _positive_int(batch_size, "batch_size")
    images = _images_of(data)
    if images.ndim not in (3, 4):
        raise errors.InvalidArgument(
            f"images must be N x C x H x W or N x H x W, got shape {images.shape}"
        )
    if images.shape[0] == 0:
        raise errors.InvalidArgument("cannot encode an empty dataset (0 images)")
    parts = []
    for start in range(0, images.shape[0], batch_size):
        batch = images[start : start + batch_size]
        codes = np.asarray(model.encode(batch))
        if codes.ndim != 2 or codes.shape[0] != batch.shape[0]:
            raise errors.InvalidArgument(
                f"the encoder must answer one row of codes per image: {batch.shape[0]} images "
                f"gave codes of shape {codes.shape}"
            )
        parts.append(codes)
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)


def latent_frame(
    codes: np.ndarray,
    labels: np.ndarray | Sequence[int] | None = None,
    class_names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The codes as a table: one column per latent variable, plus the labels.

    Args:
        codes: N x d latent codes.
        labels: optional integer labels, one per code.
        class_names: optional names of the classes (label i is ``class_names[i]``); needs
            `labels`.

    Returns:
        A DataFrame with float columns ``z0`` .. ``z{d-1}``, then ``label`` (int64) when
        labels are given, then ``class_name`` (a categorical in the order of
        `class_names`) when class names are given.

    Raises:
        udl.InvalidArgument: for codes that are not 2-D or empty, a label count that differs
            from the code count, non-integer or negative labels, class names without labels,
            or a label with no class name.
    """
    import pandas as pd

    codes = _codes(codes, minimum_rows=1)
    frame = pd.DataFrame(codes, columns=[f"z{i}" for i in range(codes.shape[1])])
    if labels is None:
        if class_names is not None:
            raise errors.InvalidArgument("class_names were given without labels")
        return frame
    label_array = _labels(labels, codes.shape[0])
    frame["label"] = label_array
    if class_names is not None:
        names = _class_names(class_names, label_array)
        frame["class_name"] = pd.Categorical.from_codes(label_array, categories=names)
    return frame


def project(
    codes: np.ndarray,
    method: str = "pca",
    *,
    perplexity: float = 30.0,
    seed: int = 0,
    max_points: int | None = None,
    max_iter: int = 1000,
) -> Projection:
    """Projects latent codes to two dimensions with scikit-learn's PCA or t-SNE.

    Both methods need codes of at least two dimensions: a 1-D latent is already a line, so
    plot it directly (a PCA to two components of one variable does not exist).

    Args:
        codes: N x d latent codes, finite, N >= 2 and d >= 2.
        method: "pca" (linear, deterministic) or "tsne" (`sklearn.manifold.TSNE`, PCA
            initialisation, seeded).
        perplexity: t-SNE's perplexity, > 0 and below the number of points projected.
        seed: seeds the subsampling and t-SNE; the same seed gives the same projection.
        max_points: project at most this many codes, drawn without replacement by a
            generator seeded with `seed` (t-SNE is quadratic in the number of points).
        max_iter: t-SNE's number of optimisation iterations (scikit-learn needs >= 250).

    Returns:
        The Projection; its `indices` name the rows of `codes` used.

    Raises:
        udl.InvalidArgument: for codes that are not 2-D, have fewer than two rows or
            dimensions, are not finite or have no variance (PCA); an unknown method; a
            perplexity outside (0, number of points); max_points < 2; max_iter < 250.
    """
    codes = _codes(codes, minimum_rows=2)
    if codes.shape[1] < 2:
        raise errors.InvalidArgument(
            f"projecting to 2-D needs codes of at least 2 dimensions, got {codes.shape[1]}; "
            "a 1-D latent can be plotted directly"
        )
    if method not in PROJECTION_METHODS:
        raise errors.InvalidArgument(
            f"unknown projection method {method!r}; known: {', '.join(PROJECTION_METHODS)}"
        )
    seed = _int(seed, "seed")
    n_codes = codes.shape[0]
    indices = np.arange(n_codes)
    if max_points is not None:
        max_points = _int(max_points, "max_points")
        if max_points < 2:
            raise errors.InvalidArgument(f"max_points must be >= 2, got {max_points}")
        if max_points < n_codes:
            rng = np.random.default_rng(seed)
            indices = np.sort(rng.choice(n_codes, size=max_points, replace=False))
    selected = codes[indices].astype(np.float64)

    if method == "pca":
        from sklearn.decomposition import PCA

        if not np.any(selected.var(axis=0) > 0):
            raise errors.InvalidArgument("the codes have no variance (all equal): PCA is undefined")
        pca = PCA(n_components=2, svd_solver="full")
        points = pca.fit_transform(selected)
        ratio = tuple(float(r) for r in pca.explained_variance_ratio_)
        return Projection(points, "pca", (ratio[0], ratio[1]), indices, n_codes)

    from sklearn.manifold import TSNE

    perplexity = _real(perplexity, "perplexity")
    if not 0 < perplexity < len(selected):
        raise errors.InvalidArgument(
            f"t-SNE needs 0 < perplexity < number of points ({len(selected)}), "
            f"got perplexity {perplexity}"
        )
    max_iter = _int(max_iter, "max_iter")
    if max_iter < 250:
        raise errors.InvalidArgument(f"t-SNE needs max_iter >= 250, got {max_iter}")
    tsne = TSNE(
        n_components=2,
        perplexity=perplexity,
        init="pca",
        learning_rate="auto",
        max_iter=max_iter,
        random_state=seed,
    )
    points = np.asarray(tsne.fit_transform(selected), dtype=np.float64)
    return Projection(points, "tsne", None, indices, n_codes)


def latent_grid(
    codes: np.ndarray,
    steps: int = 15,
    *,
    quantiles: tuple[float, float] = (0.01, 0.99),
) -> np.ndarray:
    """A regular grid over the occupied region of a 2-D latent plane.

    Each axis spans from the `quantiles[0]` to the `quantiles[1]` quantile of the codes on
    that axis, in `steps` equal steps. Row ``r * steps + c`` of the result is the point in
    grid row r (0 at the top) and grid column c (0 at the left): z0 increases with c
    (rightward) and z1 decreases with r (downward), so images decoded from the rows and laid
    out `steps` to a row show the plane the way a plot of it does.

    Args:
        codes: N x 2 latent codes (N >= 1), finite; they only fix the extent of the grid.
        steps: points per axis, >= 2.
        quantiles: (low, high) with 0 <= low < high <= 1.

    Returns:
        The grid points, float32, (steps * steps) x 2.

    Raises:
        udl.InvalidArgument: for codes whose latent is not 2-D, codes that are empty or not
            finite, steps < 2, or quantiles outside 0 <= low < high <= 1.
    """
    codes = np.asarray(codes)
    if codes.ndim == 2 and codes.shape[1] != 2:
        raise errors.InvalidArgument(
            f"the latent grid needs a 2-D latent (codes N x 2), got a {codes.shape[1]}-D "
            f"latent (codes of shape {codes.shape})"
        )
    codes = _codes(codes, minimum_rows=1)
    steps = _int(steps, "steps")
    if steps < 2:
        raise errors.InvalidArgument(f"the latent grid needs steps >= 2, got {steps}")
    if len(quantiles) != 2:
        raise errors.InvalidArgument(f"quantiles must be (low, high), got {quantiles!r}")
    low, high = (_real(q, "quantile") for q in quantiles)
    if not 0 <= low < high <= 1:
        raise errors.InvalidArgument(
            f"quantiles must satisfy 0 <= low < high <= 1, got {quantiles!r}"
        )
    lo = np.quantile(codes.astype(np.float64), low, axis=0)
    hi = np.quantile(codes.astype(np.float64), high, axis=0)
    xs = np.linspace(lo[0], hi[0], steps)
    ys = np.linspace(hi[1], lo[1], steps)  # top row first: z1 decreases downward
    grid_x, grid_y = np.meshgrid(xs, ys)  # [r, c] -> (xs[c], ys[r])
    return np.stack([grid_x.ravel(), grid_y.ravel()], axis=1).astype(np.float32)


def decode_latent_grid(
    model: Decoder, codes: np.ndarray, steps: int = 15, **kwargs: Any
) -> np.ndarray:
    """Decodes the `latent_grid` of a 2-D latent: the images of report 000's latent plane.

    Args:
        model: anything with ``decode(codes) -> np.ndarray`` for a 2-D latent.
        codes: N x 2 codes fixing the extent of the grid (see `latent_grid`).
        steps: points per axis, >= 2.
        **kwargs: passed to `latent_grid` (``quantiles``).

    Returns:
        (steps * steps) x C x H x W images in the order of `latent_grid`: reshaped to
        steps x steps they put z1 decreasing downward and z0 increasing rightward.

    Raises:
        udl.InvalidArgument: as `latent_grid`.
    """
    return np.asarray(model.decode(latent_grid(codes, steps, **kwargs)))


def interpolate(
    model: EncoderDecoder, image_a: np.ndarray, image_b: np.ndarray, steps: int = 8
) -> np.ndarray:
    """Decodes evenly spaced points on the segment between two images' codes.

    Args:
        model: anything with ``encode`` and ``decode`` on NumPy arrays.
        image_a: the first image, C x H x W or 1 x C x H x W (or H x W for one channel),
            uint8 or float in [0, 1].
        image_b: the second image, of the same shape.
        steps: images to produce, >= 2; the first decodes image_a's code, the last
            image_b's.

    Returns:
        steps x C x H x W decoded images, from a to b.

    Raises:
        udl.InvalidArgument: for steps < 2, images of other shapes, or of different shapes.
    """
    steps = _int(steps, "steps")
    if steps < 2:
        raise errors.InvalidArgument(f"interpolation needs steps >= 2, got {steps}")
    a = _one_image(image_a, "image_a")
    b = _one_image(image_b, "image_b")
    if a.shape != b.shape:
        raise errors.InvalidArgument(
            f"image_a and image_b must have the same shape, got {a.shape[1:]} and {b.shape[1:]}"
        )
    code_a = np.asarray(model.encode(a), dtype=np.float32)[0]
    code_b = np.asarray(model.encode(b), dtype=np.float32)[0]
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    codes = (1 - t) * code_a + t * code_b  # exactly code_a at t = 0, code_b at t = 1
    return np.asarray(model.decode(codes))


# --- checks ---------------------------------------------------------------------------------


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise errors.InvalidArgument(f"{name} must be an integer, got {value!r}")
    return int(value)


def _positive_int(value: Any, name: str) -> int:
    value = _int(value, name)
    if value <= 0:
        raise errors.InvalidArgument(f"{name} must be > 0, got {value}")
    return value


def _real(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise errors.InvalidArgument(f"{name} must be a number, got {value!r}")
    return float(value)


def _to_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _images_of(data: Any) -> np.ndarray:
    images = getattr(data, "images", data)  # an ImageSet, or the array itself
    return _to_numpy(images)


def _codes(codes: Any, minimum_rows: int) -> np.ndarray:
    array = _to_numpy(codes)
    if array.ndim != 2:
        raise errors.InvalidArgument(
            f"codes must be a 2-D array (N x latent), got shape {array.shape}"
        )
    if array.shape[0] < minimum_rows or array.shape[1] == 0:
        raise errors.InvalidArgument(
            f"codes must have at least {minimum_rows} row(s) and 1 column, got shape {array.shape}"
        )
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise errors.InvalidArgument(f"codes must be numbers, got dtype {array.dtype}")
    if not np.isfinite(array).all():
        raise errors.InvalidArgument("codes contain NaN or infinite values")
    return array


def _labels(labels: Any, count: int) -> np.ndarray:
    array = _to_numpy(labels)
    if array.ndim != 1:
        raise errors.InvalidArgument(f"labels must be 1-D, got shape {array.shape}")
    if array.shape[0] != count:
        raise errors.InvalidArgument(
            f"{array.shape[0]} labels for {count} codes: the counts must match"
        )
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer):
        raise errors.InvalidArgument(f"labels must be integers, got dtype {array.dtype}")
    if count and array.min() < 0:
        raise errors.InvalidArgument(f"labels must be >= 0, got {array.min()}")
    return array.astype(np.int64)


def _class_names(class_names: Sequence[str], labels: np.ndarray) -> list[str]:
    names = [str(n) for n in class_names]
    if len(set(names)) != len(names):
        raise errors.InvalidArgument(f"class_names must be distinct, got {names}")
    if labels.size and labels.max() >= len(names):
        raise errors.InvalidArgument(
            f"label {labels.max()} has no class name: {len(names)} class names given"
        )
    return names


def _one_image(image: Any, name: str) -> np.ndarray:
    array = _to_numpy(image)
    if array.ndim == 2:
        array = array[None, None]
    elif array.ndim == 3:
        array = array[None]
    elif not (array.ndim == 4 and array.shape[0] == 1):
        raise errors.InvalidArgument(
            f"{name} must be one image, C x H x W or 1 x C x H x W, got shape {array.shape}"
        )
    return array
