"""udl.latent: encoding datasets, latent tables, PCA and t-SNE projections, latent grids and
interpolations, on a tiny CAE trained once on real Fashion-MNIST."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA

import udl
from udl import InvalidArgument
from udl.latent import (
    Projection,
    decode_latent_grid,
    encode_dataset,
    interpolate,
    latent_frame,
    latent_grid,
    project,
)

N_CODES = 300


@pytest.fixture(scope="module")
def cae(small_train: np.ndarray) -> udl.Autoencoder:
    """A CAE with a 2-D latent, one epoch on 1024 real images (a fraction of a second)."""
    result = udl.train_cae(
        small_train[:1024], nf=8, latent_dim=2, epochs=1, seed=0, threads=1, batch_size=128
    )
    return result.model


@pytest.fixture(scope="module")
def test_set(fashion: udl.datasets.Dataset) -> udl.datasets.ImageSet:
    """The first 300 real test images with their labels."""
    return udl.datasets.ImageSet(fashion.test.images[:N_CODES], fashion.test.labels[:N_CODES])


@pytest.fixture(scope="module")
def codes(cae: udl.Autoencoder, test_set: udl.datasets.ImageSet) -> np.ndarray:
    return encode_dataset(cae, test_set)


@pytest.fixture(scope="module")
def codes5(test_set: udl.datasets.ImageSet) -> np.ndarray:
    """5-D codes from an untrained (seeded) CAE: enough dimensions for a real PCA."""
    model = udl.Autoencoder(udl.AutoencoderSpec.conv_autoencoder(8, 5), seed=0)
    return encode_dataset(model, test_set)


class Recorder:
    """A duck-typed model: encode answers the per-image pixel mean and sum (float64);
    decode records the codes and answers them as 2 x 1 x 1 images."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.decoded: list[np.ndarray] = []

    def encode(self, images: np.ndarray) -> np.ndarray:
        self.batches.append(len(images))
        flat = images.reshape(len(images), -1).astype(np.float64)
        return np.stack([flat.mean(axis=1), flat.sum(axis=1)], axis=1)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        self.decoded.append(np.array(codes))
        return np.asarray(codes)[:, :, None, None]


# --- encode_dataset ------------------------------------------------------------------------


def test_encode_dataset_equals_model_encode_in_batches(
    cae: udl.Autoencoder, test_set: udl.datasets.ImageSet
) -> None:
    codes = encode_dataset(cae, test_set, batch_size=128)  # batches of 128, 128, 44
    direct = cae.encode(test_set.images)
    assert codes.shape == direct.shape == (N_CODES, 2)
    assert codes.dtype == direct.dtype == np.float32
    np.testing.assert_allclose(codes, direct, rtol=1e-5, atol=1e-6)


def test_encode_dataset_takes_arrays_float_and_one_channel_3d(
    cae: udl.Autoencoder, test_set: udl.datasets.ImageSet
) -> None:
    images = test_set.images[:50]
    from_uint8 = encode_dataset(cae, images)
    from_float = encode_dataset(cae, images.astype(np.float32) / 255)
    from_3d = encode_dataset(cae, images[:, 0])
    np.testing.assert_allclose(from_float, from_uint8, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(from_3d, from_uint8)


def test_encode_dataset_calls_any_encoder_batch_by_batch(
    test_set: udl.datasets.ImageSet,
) -> None:
    model = Recorder()
    codes = encode_dataset(model, test_set.images[:250], batch_size=100)
    assert model.batches == [100, 100, 50]
    assert codes.dtype == np.float32 and codes.shape == (250, 2)
    expected = test_set.images[:250].reshape(250, -1).mean(axis=1)
    np.testing.assert_allclose(codes[:, 0], expected, rtol=1e-6)


def test_encode_dataset_rejects_an_empty_dataset(cae: udl.Autoencoder) -> None:
    with pytest.raises(InvalidArgument, match="empty dataset"):
        encode_dataset(cae, np.zeros((0, 1, 28, 28), np.uint8))


def test_encode_dataset_rejects_a_non_positive_batch_size(
    cae: udl.Autoencoder, test_set: udl.datasets.ImageSet
) -> None:
    with pytest.raises(InvalidArgument, match="batch_size must be > 0, got 0"):
        encode_dataset(cae, test_set, batch_size=0)


def test_encode_dataset_rejects_images_of_the_wrong_dimension(cae: udl.Autoencoder) -> None:
    with pytest.raises(InvalidArgument, match=r"N x C x H x W or N x H x W, got shape \(784,\)"):
        encode_dataset(cae, np.zeros(784, np.uint8))


def test_encode_dataset_rejects_an_encoder_answering_wrong_rows(
    test_set: udl.datasets.ImageSet,
) -> None:
    class Broken:
        def encode(self, images: np.ndarray) -> np.ndarray:
            return np.zeros((1, 2), np.float32)

    with pytest.raises(InvalidArgument, match="one row of codes per image: 10 images"):
        encode_dataset(Broken(), test_set.images[:10])


# --- latent_frame -------------------------------------------------------------------------


def test_latent_frame_has_one_column_per_variable_and_the_labels(
    codes: np.ndarray, test_set: udl.datasets.ImageSet, fashion: udl.datasets.Dataset
) -> None:
    frame = latent_frame(codes, test_set.labels, fashion.class_names)
    assert list(frame.columns) == ["z0", "z1", "label", "class_name"]
    assert len(frame) == N_CODES
    np.testing.assert_array_equal(frame[["z0", "z1"]].to_numpy(), codes)
    assert frame["label"].dtype == np.int64
    np.testing.assert_array_equal(frame["label"].to_numpy(), test_set.labels)
    assert isinstance(frame["class_name"].dtype, pd.CategoricalDtype)
    assert list(frame["class_name"].cat.categories) == list(fashion.class_names)
    expected = [fashion.class_names[label] for label in test_set.labels]
    assert frame["class_name"].astype(str).tolist() == expected


def test_latent_frame_without_labels_has_only_the_codes(codes5: np.ndarray) -> None:
    frame = latent_frame(codes5)
    assert list(frame.columns) == ["z0", "z1", "z2", "z3", "z4"]
    np.testing.assert_array_equal(frame.to_numpy(), codes5)


def test_latent_frame_with_labels_only(codes: np.ndarray) -> None:
    frame = latent_frame(codes, list(range(N_CODES)))
    assert list(frame.columns) == ["z0", "z1", "label"]
    assert frame["label"].tolist() == list(range(N_CODES))


def test_latent_frame_rejects_a_label_count_that_differs(codes: np.ndarray) -> None:
    with pytest.raises(InvalidArgument, match=f"299 labels for {N_CODES} codes"):
        latent_frame(codes, np.zeros(N_CODES - 1, np.int64))


def test_latent_frame_rejects_class_names_without_labels(codes: np.ndarray) -> None:
    with pytest.raises(InvalidArgument, match="class_names were given without labels"):
        latent_frame(codes, class_names=["a", "b"])


def test_latent_frame_rejects_a_label_without_a_class_name(codes: np.ndarray) -> None:
    labels = np.arange(N_CODES) % 3
    with pytest.raises(InvalidArgument, match="label 2 has no class name: 2 class names"):
        latent_frame(codes, labels, ["a", "b"])


def test_latent_frame_rejects_non_integer_labels(codes: np.ndarray) -> None:
    with pytest.raises(InvalidArgument, match="labels must be integers, got dtype float64"):
        latent_frame(codes, np.zeros(N_CODES))


def test_latent_frame_rejects_codes_that_are_not_2d(codes: np.ndarray) -> None:
    with pytest.raises(InvalidArgument, match=r"codes must be a 2-D array .* shape \(300,\)"):
        latent_frame(codes[:, 0])


# --- project ------------------------------------------------------------------------------


def test_pca_matches_scikit_learn(codes5: np.ndarray) -> None:
    projection = project(codes5, "pca")
    assert isinstance(projection, Projection)
    assert projection.method == "pca"
    assert projection.points.shape == (N_CODES, 2)
    reference = PCA(n_components=2, svd_solver="full").fit(codes5.astype(np.float64))
    ratio = projection.explained_variance_ratio
    assert ratio is not None and len(ratio) == 2
    np.testing.assert_allclose(ratio, reference.explained_variance_ratio_, rtol=1e-10)
    assert 0 < ratio[1] <= ratio[0] <= 1
    assert sum(ratio) <= 1 + 1e-12
    np.testing.assert_allclose(
        projection.points, reference.transform(codes5.astype(np.float64)), atol=1e-9
    )
    np.testing.assert_array_equal(projection.indices, np.arange(N_CODES))
    assert projection.n_codes == N_CODES


def test_pca_of_a_2d_latent_keeps_all_the_variance(codes: np.ndarray) -> None:
    ratio = project(codes, "pca").explained_variance_ratio
    assert ratio is not None
    assert ratio[0] >= ratio[1] > 0
    assert sum(ratio) == pytest.approx(1.0)


def test_tsne_is_seeded_and_reproducible(codes5: np.ndarray) -> None:
    first = project(codes5, "tsne", perplexity=10.0, seed=3, max_points=150, max_iter=250)
    again = project(codes5, "tsne", perplexity=10.0, seed=3, max_points=150, max_iter=250)
    other = project(codes5, "tsne", perplexity=10.0, seed=4, max_points=150, max_iter=250)
    assert first.method == "tsne" and first.explained_variance_ratio is None
    assert first.points.shape == (150, 2)
    assert np.isfinite(first.points).all()
    np.testing.assert_array_equal(first.points, again.points)
    np.testing.assert_array_equal(first.indices, again.indices)
    assert not np.array_equal(first.indices, other.indices)


def test_max_points_subsamples_with_recorded_indices(codes5: np.ndarray) -> None:
    projection = project(codes5, "pca", max_points=100, seed=7)
    indices = projection.indices
    assert indices is not None
    assert projection.points.shape == (100, 2) and indices.shape == (100,)
    assert len(np.unique(indices)) == 100
    assert np.all(np.diff(indices) > 0) and indices[0] >= 0 and indices[-1] < N_CODES
    assert projection.n_codes == N_CODES
    np.testing.assert_array_equal(indices, project(codes5, max_points=100, seed=7).indices)
    reference = PCA(n_components=2, svd_solver="full").fit(codes5[indices].astype(np.float64))
    np.testing.assert_allclose(
        projection.explained_variance_ratio, reference.explained_variance_ratio_, rtol=1e-10
    )


def test_max_points_above_the_count_projects_everything(codes5: np.ndarray) -> None:
    projection = project(codes5, max_points=10 * N_CODES)
    np.testing.assert_array_equal(projection.indices, np.arange(N_CODES))


def test_project_rejects_an_unknown_method(codes: np.ndarray) -> None:
    with pytest.raises(InvalidArgument, match="unknown projection method 'umap'; known: pca"):
        project(codes, "umap")


def test_tsne_rejects_a_perplexity_not_below_the_point_count(codes: np.ndarray) -> None:
    with pytest.raises(InvalidArgument, match=r"perplexity < number of points \(20\)"):
        project(codes[:20], "tsne", perplexity=20.0)


def test_tsne_rejects_a_non_positive_perplexity(codes: np.ndarray) -> None:
    with pytest.raises(InvalidArgument, match=r"0 < perplexity .* got perplexity 0\.0"):
        project(codes, "tsne", perplexity=0.0)


def test_tsne_perplexity_counts_the_subsample(codes: np.ndarray) -> None:
    with pytest.raises(InvalidArgument, match=r"number of points \(30\)"):
        project(codes, "tsne", perplexity=30.0, max_points=30)


def test_project_rejects_a_single_code(codes: np.ndarray) -> None:
    with pytest.raises(InvalidArgument, match=r"at least 2 row\(s\)"):
        project(codes[:1])


def test_project_rejects_a_1d_latent(codes: np.ndarray) -> None:
    with pytest.raises(InvalidArgument, match="at least 2 dimensions, got 1"):
        project(codes[:, :1])


def test_project_rejects_non_finite_codes(codes: np.ndarray) -> None:
    bad = codes.copy()
    bad[5, 1] = np.nan
    with pytest.raises(InvalidArgument, match="NaN or infinite"):
        project(bad)


def test_pca_rejects_constant_codes() -> None:
    with pytest.raises(InvalidArgument, match="no variance"):
        project(np.ones((10, 3), np.float32))


def test_project_rejects_max_points_below_two(codes: np.ndarray) -> None:
    with pytest.raises(InvalidArgument, match="max_points must be >= 2, got 1"):
        project(codes, max_points=1)


# --- latent_grid --------------------------------------------------------------------------


def test_latent_grid_spans_the_quantile_box_in_display_order(codes: np.ndarray) -> None:
    steps = 7
    grid = latent_grid(codes, steps)
    assert grid.shape == (steps * steps, 2) and grid.dtype == np.float32
    lo = np.quantile(codes.astype(np.float64), 0.01, axis=0)
    hi = np.quantile(codes.astype(np.float64), 0.99, axis=0)
    cells = grid.reshape(steps, steps, 2)  # [row, column]
    # z0 is constant down a column and increases to the right, from its low to high quantile.
    np.testing.assert_array_equal(cells[:, :, 0], np.broadcast_to(cells[0, :, 0], (steps, steps)))
    assert np.all(np.diff(cells[0, :, 0]) > 0)
    # z1 is constant along a row and decreases downward, from its high to low quantile.
    np.testing.assert_array_equal(cells[:, :, 1], np.broadcast_to(cells[:, :1, 1], (steps, steps)))
    assert np.all(np.diff(cells[:, 0, 1]) < 0)
    np.testing.assert_allclose(grid[0], [lo[0], hi[1]], rtol=1e-6)  # top left
    np.testing.assert_allclose(grid[steps - 1], [hi[0], hi[1]], rtol=1e-6)  # top right
    np.testing.assert_allclose(grid[-1], [hi[0], lo[1]], rtol=1e-6)  # bottom right
    np.testing.assert_allclose(np.diff(cells[0, :, 0]), (hi[0] - lo[0]) / (steps - 1), rtol=1e-4)


def test_latent_grid_quantiles_zero_and_one_reach_the_extremes(codes: np.ndarray) -> None:
    grid = latent_grid(codes, 3, quantiles=(0.0, 1.0))
    np.testing.assert_allclose(grid.min(axis=0), codes.min(axis=0), rtol=1e-6)
    np.testing.assert_allclose(grid.max(axis=0), codes.max(axis=0), rtol=1e-6)


def test_latent_grid_rejects_a_latent_that_is_not_2d(codes5: np.ndarray) -> None:
    with pytest.raises(
        InvalidArgument, match=r"latent grid needs a 2-D latent .* got a 5-D latent"
    ):
        latent_grid(codes5)


def test_latent_grid_rejects_a_1d_latent(codes: np.ndarray) -> None:
    with pytest.raises(
        InvalidArgument, match=r"latent grid needs a 2-D latent .* got a 1-D latent"
    ):
        latent_grid(codes[:, :1])


def test_latent_grid_rejects_fewer_than_two_steps(codes: np.ndarray) -> None:
    with pytest.raises(InvalidArgument, match="steps >= 2, got 1"):
        latent_grid(codes, 1)


def test_latent_grid_rejects_quantiles_out_of_order(codes: np.ndarray) -> None:
    with pytest.raises(InvalidArgument, match="0 <= low < high <= 1"):
        latent_grid(codes, quantiles=(0.9, 0.1))


def test_decode_latent_grid_decodes_the_grid(cae: udl.Autoencoder, codes: np.ndarray) -> None:
    images = decode_latent_grid(cae, codes, 5)
    assert images.shape == (25, 1, 28, 28) and images.dtype == np.float32
    assert 0 <= images.min() and images.max() <= 1
    np.testing.assert_array_equal(images, cae.decode(latent_grid(codes, 5)))
    custom = decode_latent_grid(cae, codes, 4, quantiles=(0.0, 1.0))
    np.testing.assert_array_equal(custom, cae.decode(latent_grid(codes, 4, quantiles=(0, 1))))


def test_decode_latent_grid_puts_the_top_left_image_at_low_z0_high_z1(codes: np.ndarray) -> None:
    model = Recorder()  # decodes each code as a 2 x 1 x 1 "image" holding the code
    images = decode_latent_grid(model, codes, 4).reshape(4, 4, 2)
    assert images[0, 0, 0] == images[:, :, 0].min() and images[0, 0, 1] == images[:, :, 1].max()
    assert images[-1, -1, 0] == images[:, :, 0].max()
    assert images[-1, -1, 1] == images[:, :, 1].min()


# --- interpolate --------------------------------------------------------------------------


def test_interpolation_ends_at_the_two_images(
    cae: udl.Autoencoder, test_set: udl.datasets.ImageSet
) -> None:
    a, b = test_set.images[0], test_set.images[1]  # 1 x 28 x 28 each
    images = interpolate(cae, a, b, steps=6)
    assert images.shape == (6, 1, 28, 28) and images.dtype == np.float32
    np.testing.assert_allclose(images[0], cae.decode(cae.encode(a[None]))[0], atol=1e-6)
    np.testing.assert_allclose(images[-1], cae.decode(cae.encode(b[None]))[0], atol=1e-6)
    assert not np.allclose(images[0], images[-1])


def test_interpolation_accepts_batched_and_float_images(
    cae: udl.Autoencoder, test_set: udl.datasets.ImageSet
) -> None:
    a, b = test_set.images[2], test_set.images[3]
    plain = interpolate(cae, a, b, steps=3)
    np.testing.assert_array_equal(interpolate(cae, a[None], b[None], steps=3), plain)
    as_float = interpolate(cae, a.astype(np.float32) / 255, b.astype(np.float32) / 255, steps=3)
    np.testing.assert_allclose(as_float, plain, atol=1e-5)


def test_interpolation_decodes_evenly_spaced_codes(test_set: udl.datasets.ImageSet) -> None:
    model = Recorder()
    a, b = test_set.images[0], test_set.images[1]
    interpolate(model, a, b, steps=5)
    (decoded,) = model.decoded
    code_a, code_b = model.encode(a[None])[0], model.encode(b[None])[0]
    expected = np.linspace(code_a, code_b, 5)
    np.testing.assert_allclose(decoded, expected, rtol=1e-6)
    np.testing.assert_array_equal(decoded[0], code_a.astype(np.float32))
    np.testing.assert_array_equal(decoded[-1], code_b.astype(np.float32))


def test_interpolation_rejects_fewer_than_two_steps(
    cae: udl.Autoencoder, test_set: udl.datasets.ImageSet
) -> None:
    with pytest.raises(InvalidArgument, match="steps >= 2, got 1"):
        interpolate(cae, test_set.images[0], test_set.images[1], steps=1)


def test_interpolation_rejects_images_of_different_shapes(cae: udl.Autoencoder) -> None:
    a = np.zeros((1, 28, 28), np.uint8)
    b = np.zeros((1, 32, 32), np.uint8)
    with pytest.raises(InvalidArgument, match="same shape"):
        interpolate(cae, a, b)


def test_interpolation_rejects_a_batch_of_several_images(
    cae: udl.Autoencoder, test_set: udl.datasets.ImageSet
) -> None:
    with pytest.raises(InvalidArgument, match=r"image_a must be one image.*\(2, 1, 28, 28\)"):
        interpolate(cae, test_set.images[:2], test_set.images[2])


@pytest.mark.parametrize("steps", [2.5, True, "3"])
def test_interpolation_rejects_non_integer_steps(
    cae: udl.Autoencoder, test_set: udl.datasets.ImageSet, steps: Any
) -> None:
    with pytest.raises(InvalidArgument, match="steps must be an integer"):
        interpolate(cae, test_set.images[0], test_set.images[1], steps=steps)
