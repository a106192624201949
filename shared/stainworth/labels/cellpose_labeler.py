"""Nuclei labels with a user-supplied Cellpose 3 model file; nothing is ever downloaded.

Cellpose 3 (``cellpose<4``, pinned as the study used it) resolves a model name such as
``"cyto3"`` by downloading weights, and substitutes its default model when a path does not
exist; when a file holds other tensors it loads what matches and silently leaves the rest of the
network random. :func:`load_cellpose_model` therefore accepts only an existing file, reads it
itself with ``torch.load(weights_only=True)``, checks that it is a complete Cellpose 3 network,
builds the model from it and then verifies that every tensor of the network equals the file's.

``cellpose`` is imported on first use (its import compiles numba kernels: ~10 s).

References
----------
.. [1] Stringer, C., Wang, T., Michaelos, M. & Pachitariu, M. Cellpose: a generalist algorithm
   for cellular segmentation. Nat. Methods 18, 100-106 (2021).
.. [2] Stringer, C. & Pachitariu, M. Cellpose3: one-click image restoration for improved
   cellular segmentation. Nat. Methods 22, 592-599 (2025).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from stainworth.errors import ConfigError, InputDataError
from stainworth.labels.classical import check_marker_image

if TYPE_CHECKING:
    import torch
    from cellpose.models import CellposeModel

FIRST_CONV = "downsample.down.res_down_0.proj.1.weight"
"""Tensor whose input width is the network's channel count (``nchan``)."""
CELLPOSE4_KEY = "W2"
"""Key present in Cellpose 4 (Cellpose-SAM) files only."""
NBASE = (32, 64, 128, 256)
"""Feature widths of the Cellpose 3 default (res-U-net) backbone."""
CELLPOSE_PERCENTILES = (1.0, 99.0)
"""Percentiles Cellpose maps to 0 and 1 before its network (its default normalisation)."""


def load_cellpose_model(path: str | Path, *, gpu: bool = False, mkldnn: bool = False) -> CellposeModel:
    """Load a Cellpose 3 model from a file, refusing anything that would not load real weights.

    Parameters
    ----------
    path
        Local file written by Cellpose 3 (``CPnet.save_model`` / ``train.train_seg``). Model
        names (``"cyto3"``, ``"nuclei"``) are refused: they would be downloaded. Store URIs must
        be fetched to a local file by the caller.
    gpu
        Use a GPU when one is available (Cellpose falls back to the CPU otherwise).
    mkldnn
        Run the CPU network through oneDNN (MKL-DNN). Off by default: Cellpose 3 converts the
        whole network on every ``eval`` call (~2 s), and it was no faster here on 2 cores.

    Returns
    -------
    cellpose.models.CellposeModel
        The model, its network weights equal to the file's; its ``diam_mean`` and
        ``diam_labels`` come from the file.

    Raises
    ------
    InputDataError
        If the file does not exist, cannot be read as PyTorch weights, is not a complete
        Cellpose 3 network (e.g. a Cellpose 4 file or another network's weights), or the built
        network's weights differ from the file's.

    References
    ----------
    .. [1] Stringer, C. & Pachitariu, M. Nat. Methods 22, 592-599 (2025).
    """
    file = _existing_file(path)
    state = _read_state_dict(file)
    nchan = _check_cellpose3(state, file)
    from cellpose.models import CellposeModel

    try:
        model = CellposeModel(gpu=gpu, pretrained_model=str(file), nchan=nchan, mkldnn=mkldnn)
    except Exception as err:  # Cellpose raises bare exceptions (AssertionError, KeyError, ...)
        reason = f"{type(err).__name__}: {err}"[:200]
        raise InputDataError(f"Cellpose model {file}: Cellpose 3 could not load it ({reason})") from err
    _verify_loaded(model, state, file)
    return model


def label_nuclei_cellpose(
    image: np.ndarray,
    model: CellposeModel,
    *,
    diameter_px: float | None = None,
    channels: tuple[int, int] = (0, 0),
    flow_threshold: float = 0.4,
    cellprob_threshold: float = 0.0,
    min_size_px: int = 15,
    batch_size: int = 8,
    lowhigh: tuple[float, float] | None = None,
) -> np.ndarray:
    """Label nuclei with a loaded Cellpose 3 model.

    Parameters
    ----------
    image
        (H, W) nuclear-marker intensities; normalised by Cellpose (1st-99th percentile).
    model
        A model from :func:`load_cellpose_model`.
    diameter_px
        Typical nucleus diameter in this image, px; ``None`` uses the mean diameter of the
        model's training labels (right when the image has the training pixel size).
    channels
        Cellpose ``[segment, nuclear]`` channels; ``(0, 0)`` for a grayscale image.
    flow_threshold
        Maximum flow error of a kept mask (Cellpose default 0.4).
    cellprob_threshold
        Cell-probability logit above which pixels are followed (Cellpose default 0).
    min_size_px
        Masks smaller than this are dropped by Cellpose, px.
    batch_size
        224 x 224 tiles per network batch.
    lowhigh
        Intensities mapped to 0 and 1 before the network (e.g. the whole field's percentiles when
        ``image`` is one block of it); ``None``: the image's own 1st and 99th percentiles
        (:data:`CELLPOSE_PERCENTILES`), Cellpose's default.

    Returns
    -------
    numpy.ndarray
        (H, W) uint32 instance labels 1..n; all zero when nothing was found (check with
        :func:`stainworth.labels.require_nuclei`).

    Raises
    ------
    InputDataError
        If the image is not 2-D, holds NaN/Inf or is constant.
    ConfigError
        If ``diameter_px`` is not positive.

    References
    ----------
    .. [1] Stringer, C. et al. Nat. Methods 18, 100-106 (2021).
    """
    data = check_marker_image(image)
    if diameter_px is not None and not (np.isfinite(diameter_px) and diameter_px > 0):
        raise ConfigError(f"diameter_px: found {diameter_px}, expected a number > 0 or None")
    # A fresh dict each call: Cellpose mutates its default.
    normalisation = ({"normalize": True, "percentile": list(CELLPOSE_PERCENTILES)} if lowhigh is None
                     else {"normalize": True, "lowhigh": [float(lowhigh[0]), float(lowhigh[1])]})
    masks, _flows, _styles = model.eval(
        data, batch_size=batch_size, channels=list(channels), diameter=diameter_px,
        flow_threshold=flow_threshold, cellprob_threshold=cellprob_threshold, min_size=min_size_px,
        normalize=normalisation,
    )
    return np.asarray(masks, dtype=np.uint32).reshape(data.shape)


def _existing_file(path: str | Path) -> Path:
    file = Path(path).expanduser()
    if not file.exists():
        raise InputDataError(
            f"Cellpose model {path}: file not found; expected a Cellpose 3 model file "
            "(model names are not downloaded)"
        )
    if not file.is_file():
        raise InputDataError(f"Cellpose model {path}: is a directory, expected a Cellpose 3 model file")
    return file.resolve()


def _read_state_dict(file: Path) -> dict[str, torch.Tensor]:
    import torch

    try:
        state: Any = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle, zip and torch errors alike mean "not torch weights"
        reason = str(err).splitlines()[0][:120] if str(err) else type(err).__name__
        raise InputDataError(
            f"Cellpose model {file}: not a Cellpose model (cannot be read as PyTorch weights: {reason})"
        ) from err
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputDataError(f"Cellpose model {file}: not a Cellpose model (found {type(state).__name__}, "
                             "expected a state dict of tensors)")
    return state


def _check_cellpose3(state: dict[str, torch.Tensor], file: Path) -> int:
    """The network's channel count, after checking every Cellpose 3 tensor is in the file."""
    if CELLPOSE4_KEY in state:
        raise InputDataError(f"Cellpose model {file}: a Cellpose 4 model; expected a Cellpose 3 model (cellpose<4)")
    if FIRST_CONV not in state or state[FIRST_CONV].ndim != 4:
        raise InputDataError(f"Cellpose model {file}: not a Cellpose model (no tensor {FIRST_CONV!r})")
    nchan = int(state[FIRST_CONV].shape[1])
    from cellpose.resnet_torch import CPnet

    expected = CPnet([nchan, *NBASE], 3, 3).state_dict()
    missing = [k for k in expected if k not in state]
    wrong = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or wrong:
        first = (missing or wrong)[0]
        raise InputDataError(
            f"Cellpose model {file}: not a Cellpose 3 model ({len(missing)} of {len(expected)} tensors "
            f"missing, {len(wrong)} of another shape, e.g. {first!r})"
        )
    return nchan


def _verify_loaded(model: CellposeModel, state: dict[str, torch.Tensor], file: Path) -> None:
    """Refuse a network whose tensors are not the file's (Cellpose would run it at random)."""
    import torch

    loaded = model.net.state_dict()
    differ = [k for k, v in loaded.items() if k not in state or not torch.equal(v.detach().cpu(), state[k])]
    if differ:
        raise InputDataError(
            f"Cellpose model {file}: weights did not load ({len(differ)} of {len(loaded)} tensors differ "
            f"from the file, e.g. {differ[0]!r}); refusing to run a randomly initialised network"
        )
