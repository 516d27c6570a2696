"""Type stub of udl._C, the pybind11 layer over udl_core (see cpp/python/bindings.cpp)."""

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

__torch_version__: str
MODEL_FORMAT_VERSION: int

class InvalidArchitecture(ValueError): ...
class DataFormatError(ValueError): ...
class InvalidArgument(ValueError): ...

def read_idx_images_and_labels(
    images_path: str, labels_path: str, num_classes: int
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]: ...
def read_idx(path: str) -> npt.NDArray[np.uint8]: ...
def validate_images(images: np.ndarray, labels: np.ndarray | None = None) -> None: ...

class ConvLayerSpec:
    def __init__(
        self, channels: int, kernel: int = 3, stride: int = 1, padding: int = 0
    ) -> None: ...
    @property
    def channels(self) -> int: ...
    @property
    def kernel(self) -> int: ...
    @property
    def stride(self) -> int: ...
    @property
    def padding(self) -> int: ...

class AutoencoderSpec:
    def __init__(
        self,
        input_shape: list[int],
        conv_layers: list[ConvLayerSpec],
        hidden_widths: list[int],
        latent_dim: int,
        dropout: float = 0.0,
        decoder_dropout: bool = False,
    ) -> None: ...
    @staticmethod
    def conv_autoencoder(
        nf: int,
        latent_dim: int,
        input_shape: list[int] = [1, 28, 28],
    ) -> AutoencoderSpec: ...
    @property
    def input_shape(self) -> list[int]: ...
    @property
    def conv_layers(self) -> list[ConvLayerSpec]: ...
    @property
    def hidden_widths(self) -> list[int]: ...
    @property
    def latent_dim(self) -> int: ...
    @property
    def dropout(self) -> float: ...
    @property
    def decoder_dropout(self) -> bool: ...

class Autoencoder:
    def __init__(self, spec: AutoencoderSpec, seed: int = 0) -> None: ...
    @property
    def spec(self) -> AutoencoderSpec: ...
    @property
    def parameter_count(self) -> int: ...
    def encode(self, images: np.ndarray) -> npt.NDArray[np.float32]: ...
    def decode(self, codes: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]: ...
    def reconstruct(self, images: np.ndarray) -> npt.NDArray[np.float32]: ...
    def state_dict(self) -> dict[str, npt.NDArray[np.float32]]: ...
    def sparsity(self) -> dict[str, float]: ...
    def save(self, path: str) -> None: ...
    @staticmethod
    def load(path: str) -> Autoencoder: ...

class TrainConfig:
    loss: str
    optimizer: str
    learning_rate: float
    momentum: float
    weight_decay: float
    batch_size: int
    epochs: int
    seed: int
    val_fraction: float
    threads: int
    early_stopping: bool
    patience: int
    min_delta: float
    restore_best: bool
    passes: int
    prune_every: int
    prune_amounts: dict[str, float]
    def __init__(self) -> None: ...
    def validate(self) -> None: ...

class EpochStats:
    fold: int
    epoch: int
    train_loss: float
    val_loss: float
    val_mse: float
    seconds: float
    improved: bool
    sparsity: dict[str, float]

class TrainResult:
    history: list[EpochStats]
    best_epoch: int
    best_val_loss: float
    best_val_mse: float
    seconds: float
    stop_reason: str
    test_loss: float | None
    test_mse: float | None

def train_autoencoder(
    model: Autoencoder,
    images: np.ndarray,
    test_images: np.ndarray | None,
    config: TrainConfig,
    on_epoch: Callable[[EpochStats], None] | None = None,
) -> TrainResult: ...

class CrossValidationResult:
    folds: list[TrainResult]
    mean_val_loss: float
    std_val_loss: float
    mean_val_mse: float
    std_val_mse: float
    seconds: float
    best_fold: int
    best_model: Autoencoder

def cross_validate(
    spec: AutoencoderSpec,
    images: np.ndarray,
    labels: npt.NDArray[np.int64] | None,
    test_images: np.ndarray | None,
    config: TrainConfig,
    folds: int,
    stratified: bool,
    on_epoch: Callable[[EpochStats], None] | None = None,
) -> CrossValidationResult: ...
def make_folds(
    images: np.ndarray, labels: npt.NDArray[np.int64] | None, k: int, seed: int, stratified: bool
) -> list[npt.NDArray[np.int64]]: ...
def set_num_threads(threads: int) -> None: ...
def get_num_threads() -> int: ...
