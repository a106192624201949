"""The Cellpose 3 path, with a tiny model trained from scratch here (nothing is downloaded)."""

import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from stainworth.contracts.phantom import PhantomConfig
from stainworth.errors import ConfigError, InputDataError
from stainworth.labels import label_nuclei_cellpose, load_cellpose_model
from stainworth.labels.cellpose_labeler import CELLPOSE_PERCENTILES, NBASE
from stainworth.phantom import generate_acquisition

TILE = 160
N_TRAIN = 8


@pytest.fixture(scope="session")
def phantom_tiles():
    """Nine Lamin A/C tiles with their ground-truth labels (fluorescence registered to them)."""
    config = PhantomConfig.model_validate({"acquisition": {
        "rows": 3, "cols": 3, "tile_size_px": TILE,
        "max_shift_px": 0, "max_rotation_deg": 0, "max_scale_deviation": 0,
    }})
    acq = generate_acquisition(config, condition="control", seed=0)
    images = [tile.astype(np.float32) for tile in acq.fluorescence_tiles["lamin_a_c"]]
    labels = [acq.nuclei_labels[y:y + TILE, x:x + TILE].astype(np.int32) for y, x in acq.true_positions]
    return images, labels


@pytest.fixture(scope="session")
def tiny_model(phantom_tiles, tmp_path_factory):
    """A Cellpose 3 model trained from scratch for five steps of four 64 px crops; its file path.

    Far too little training for good labels (120 epochs of 8 crops reach Dice 0.99, AP@0.5 0.94 on
    the phantom; see docs/labelling.md): this exercises training, saving, loading and labelling.
    """
    from cellpose import models, train

    images, labels = phantom_tiles
    torch.manual_seed(0)
    np.random.seed(0)
    # diam_mean 15 halves the phantom's ~30 px nuclei: 64 px crops then hold whole nuclei and the
    # network runs on a quarter of the pixels; mkldnn off trains about twice as fast on a CPU.
    model = models.CellposeModel(gpu=False, pretrained_model=False, diam_mean=15.0, mkldnn=False)
    start = time.perf_counter()
    path, losses, _ = train.train_seg(
        model.net, train_data=images[:N_TRAIN], train_labels=labels[:N_TRAIN], channels=[0, 0],
        n_epochs=5, batch_size=4, nimg_per_epoch=4, bsize=64, learning_rate=0.02, min_train_masks=1,
        save_path=tmp_path_factory.mktemp("cellpose"), model_name="tiny_nuclei",
    )
    print(f"tiny Cellpose model trained in {time.perf_counter() - start:.1f} s")
    assert np.all(np.isfinite(losses))
    return path


@pytest.fixture
def random_model_file(tmp_path):
    """A complete, valid Cellpose 3 network file (random weights; quick to make)."""
    from cellpose.resnet_torch import CPnet

    torch.manual_seed(1)
    path = tmp_path / "random_cp3"
    torch.save(CPnet([2, *NBASE], 3, 3).state_dict(), path)
    return path


def test_trained_model_loads_with_its_weights_and_labels_a_held_out_tile(tiny_model, phantom_tiles):
    model = load_cellpose_model(tiny_model)
    saved = torch.load(tiny_model, weights_only=True)
    loaded = model.net.state_dict()
    assert loaded.keys() == saved.keys()
    assert all(torch.equal(loaded[k].cpu(), saved[k]) for k in saved)
    assert model.diam_mean == pytest.approx(15.0)

    image = phantom_tiles[0][N_TRAIN]
    labels = label_nuclei_cellpose(image, model)
    assert labels.dtype == np.uint32 and labels.shape == image.shape
    again = label_nuclei_cellpose(image, load_cellpose_model(str(tiny_model)))
    np.testing.assert_array_equal(labels, again)
    np.testing.assert_array_equal(label_nuclei_cellpose(image, model, lowhigh=tuple(
        np.percentile(image, CELLPOSE_PERCENTILES))), labels)


def test_a_fields_percentiles_reach_cellpose_as_its_normalisation(random_model_file, phantom_tiles, monkeypatch):
    from cellpose import transforms

    model = load_cellpose_model(random_model_file)
    seen = []
    original = model.eval

    def spy(x, **kwargs):
        seen.append(kwargs["normalize"])
        return original(x, **kwargs)

    monkeypatch.setattr(model, "eval", spy)
    image = phantom_tiles[0][0]
    label_nuclei_cellpose(image, model)
    label_nuclei_cellpose(image, model, lowhigh=(10.0, 500.0))
    assert seen == [{"normalize": True, "percentile": [1.0, 99.0]}, {"normalize": True, "lowhigh": [10.0, 500.0]}]
    # Cellpose maps ``lowhigh`` to 0 and 1: the image's own percentiles give its default normalisation
    own = [float(v) for v in np.percentile(image, CELLPOSE_PERCENTILES)]
    np.testing.assert_allclose(transforms.normalize_img(image[..., None], lowhigh=own),
                               transforms.normalize_img(image[..., None], percentile=CELLPOSE_PERCENTILES),
                               rtol=1e-5, atol=1e-6)


def test_single_channel_model_loads(tmp_path):
    from cellpose.resnet_torch import CPnet

    path = tmp_path / "one_channel"
    torch.save(CPnet([1, *NBASE], 3, 3).state_dict(), path)
    assert load_cellpose_model(path).nchan == 1


def test_missing_file_and_model_names_are_refused(tmp_path):
    with pytest.raises(InputDataError, match="file not found"):
        load_cellpose_model(tmp_path / "absent.pth")
    with pytest.raises(InputDataError, match=r"^Cellpose model cyto3: file not found.*not downloaded"):
        load_cellpose_model("cyto3")
    with pytest.raises(InputDataError, match="is a directory"):
        load_cellpose_model(tmp_path)


def test_files_that_are_not_cellpose_models_are_refused(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(np.random.default_rng(0).bytes(4096))
    text = tmp_path / "notes.txt"
    text.write_text("a Cellpose model, honest\n")
    other = tmp_path / "other.pt"
    torch.save({"encoder.weight": torch.zeros(3, 3)}, other)
    not_a_dict = tmp_path / "tensor.pt"
    torch.save(torch.zeros(4), not_a_dict)
    for path in (junk, text):
        with pytest.raises(InputDataError, match="not a Cellpose model .cannot be read as PyTorch weights") as info:
            load_cellpose_model(path)
        assert "\n" not in str(info.value)
    with pytest.raises(InputDataError, match="not a Cellpose model .no tensor"):
        load_cellpose_model(other)
    with pytest.raises(InputDataError, match="not a Cellpose model .found Tensor"):
        load_cellpose_model(not_a_dict)


def test_incomplete_and_cellpose4_files_are_refused(tmp_path, random_model_file):
    state = torch.load(random_model_file, weights_only=True)
    partial = tmp_path / "partial"
    torch.save({k: v for k, v in state.items() if not k.startswith("upsample")}, partial)
    with pytest.raises(InputDataError, match=r"not a Cellpose 3 model \(\d+ of 313 tensors missing"):
        load_cellpose_model(partial)
    reshaped = tmp_path / "other_outputs"
    torch.save({**state, "output.2.weight": torch.zeros(5, 32, 1, 1), "output.2.bias": torch.zeros(5)}, reshaped)
    with pytest.raises(InputDataError, match="2 of another shape"):
        load_cellpose_model(reshaped)
    cp4 = tmp_path / "cpsam"
    torch.save({"W2": torch.zeros(2)}, cp4)
    with pytest.raises(InputDataError, match="a Cellpose 4 model"):
        load_cellpose_model(cp4)


def test_a_network_that_did_not_load_its_weights_is_refused(random_model_file, monkeypatch):
    from cellpose.resnet_torch import CPnet

    assert load_cellpose_model(random_model_file).net is not None
    # What Cellpose 3 does when loading goes wrong: keep the freshly initialised network.
    monkeypatch.setattr(CPnet, "load_model", lambda self, filename, device=None: None)
    with pytest.raises(InputDataError, match="weights did not load .*refusing to run a randomly initialised network"):
        load_cellpose_model(random_model_file)


def test_bad_inputs_to_the_cellpose_labeler(random_model_file):
    model = load_cellpose_model(random_model_file)
    with pytest.raises(InputDataError, match="NaN/Inf"):
        label_nuclei_cellpose(np.full((32, 32), np.nan, np.float32), model)
    with pytest.raises(InputDataError, match="expected a 2-D"):
        label_nuclei_cellpose(np.zeros((2, 32, 32), np.float32), model)
    with pytest.raises(ConfigError, match="diameter_px"):
        label_nuclei_cellpose(np.arange(1024, dtype=np.float32).reshape(32, 32), model, diameter_px=0)


def test_importing_the_labels_package_does_not_import_cellpose_or_torch():
    code = "import sys, stainworth.labels; sys.exit(int('cellpose' in sys.modules or 'torch' in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0
