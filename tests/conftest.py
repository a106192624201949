"""Shared fixtures: phantom upstream outputs built straight from ground truth; a real S3-speaking server process
(moto's server mode) on 127.0.0.1, and stores on it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import numpy as np
import pytest
import torch
import zarr

from stainworth.contracts.fields import FieldInfo, FieldsManifest
from stainworth.contracts.manifest import write_manifest
from stainworth.contracts.phantom import PhantomConfig
from stainworth.fields import LABELS, MOSAIC, REGISTERED, field_path
from stainworth.phantom import generate_acquisition
from stainworth.store import FileStore, S3Store

HASH = "0" * 64


def paste(tiles, positions, shape):
    """Mosaic from tiles at their true positions (later tiles win in overlaps)."""
    mosaic = np.zeros(shape, np.float32)
    for tile, (y, x) in zip(tiles, positions, strict=True):
        mosaic[y:y + tile.shape[0], x:x + tile.shape[1]] = tile
    return mosaic


def write_group(path, **arrays):
    group = zarr.open_group(str(path), mode="w")
    for name, data in arrays.items():
        group.create_array(name, data=data, chunks=data.shape[:-2] + (256, 256))


def write_stage(root, fields):
    write_manifest(FieldsManifest(stage="fixture", config={}, config_hash=HASH, fields=fields), root)


@pytest.fixture(scope="session")
def phantom_fields(tmp_path_factory):
    """(stitched, registered, labelled) roots with one control and one treated phantom field."""
    root = tmp_path_factory.mktemp("fields")
    config = PhantomConfig(acquisition={"rows": 3, "cols": 3, "tile_size_px": 384, "overlap": 0.1})
    fields = {}
    for condition in ("control", "treated"):
        acquisition = generate_acquisition(config, condition=condition, seed=3)
        field_id = f"phantom-{condition}"
        shape = acquisition.mosaic_shape
        label_free = paste(acquisition.qpi_tiles, acquisition.true_positions, shape)
        channels = list(acquisition.fluorescence_tiles)
        fluorescence = np.stack([paste(acquisition.fluorescence_tiles[c], acquisition.true_positions, shape)
                                 for c in channels])
        write_group(field_path(root / "stitched", field_id, MOSAIC), label_free=label_free,
                    fluorescence=fluorescence)
        write_group(field_path(root / "registered", field_id, REGISTERED), fluorescence=fluorescence)
        write_group(field_path(root / "labelled", field_id, LABELS), nuclei=acquisition.nuclei_labels)
        fields[field_id] = FieldInfo(acquisition_id=field_id, condition=condition, pixel_size_um=0.32,
                                     label_free_modality="qpi", fluorescence_channels=channels,
                                     shape_yx=shape)
    for stage in ("stitched", "registered", "labelled"):
        write_stage(root / stage, fields)
    return root / "stitched", root / "registered", root / "labelled"


@pytest.fixture(scope="session")
def phantom_datasets(phantom_fields, tmp_path_factory):
    """An ``extract`` output with small segmentation and classification datasets of the phantom fields."""
    from stainworth.contracts.prepare import ExtractConfig
    from stainworth.stages.extract import extract_datasets

    root = tmp_path_factory.mktemp("datasets")
    config = ExtractConfig.model_validate({
        "seed": 2,
        "segmentation": {"patch_px": 64, "counts": {"train": 24, "val": 8, "test": 8}},
        "classification": {"canvas_px": 48, "counts": {"train": 20, "val": 6, "test": 6}},
    })
    extract_datasets(config, *phantom_fields, root / "extracted", store_uri=f"file://{root}/store")
    return root / "extracted"


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module of tiny tensors: a second thread only adds synchronisation
    (and stalls badly on a busy machine). Use with ``pytest.mark.usefixtures("one_torch_thread")``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def evaluated_study(phantom_datasets, tmp_path_factory):
    """A small run of the whole chain on the phantom datasets: stainers, stain reports, units, both evaluations.

    Segmentation: EfficientUNet stainer only, capacity sweep (unet1, unet2). Classification: both
    stainers, capacity sweep (cnn1, cnn3) and learnable sweep (cnn1 on 6 and 8 images, 2 subsets).
    Returns ``(evaluations, stain_reports)``: folders by task and by dataset.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny networks: a second thread only adds synchronisation
    try:
        return _evaluated_study(phantom_datasets, tmp_path_factory.mktemp("study"))
    finally:
        torch.set_num_threads(threads)


def _evaluated_study(phantom_datasets, root):
    from stainworth.contracts.stainer import StainConfig
    from stainworth.contracts.task import TasksConfig, TaskUnit
    from stainworth.stages.evaluate import evaluate_stage
    from stainworth.stages.stain import apply_stainer_stage, train_stainer_stage
    from stainworth.stages.stain_report import stain_report
    from stainworth.stages.task import train_units_stage

    store = f"file://{root}/store"
    stain = StainConfig.model_validate({"training": {"batch_size": 8, "max_epochs": 1, "pix2pixhd": {
        "ngf": 8, "n_blocks": 1, "n_blocks_local": 1, "ndf": 8, "num_d": 2, "n_downsampling": 2}},
        "apply": {"batch_size": 8, "panels": 2}})
    stainers = {"segmentation": ("efficientunet",), "classification": ("efficientunet", "pix2pixhd")}
    virtual, reports = {}, {}
    for kind, architectures in stainers.items():
        virtual[kind] = {}
        for architecture in architectures:
            trained = root / f"stainer-{kind}-{architecture}"
            train_stainer_stage(stain, kind, architecture, phantom_datasets, trained, store_uri=store)
            apply_stainer_stage(stain, kind, trained, phantom_datasets, root / f"virtual-{kind}-{architecture}")
            virtual[kind][architecture] = root / f"virtual-{kind}-{architecture}"
        reports[kind] = root / f"stain-report-{kind}"
        stain_report(stain, kind, phantom_datasets, virtual[kind], reports[kind])
    tasks = TasksConfig.model_validate({
        "segmentation": {"architectures": ["unet1", "unet2"], "learnable": {"architecture": "unet1", "sizes": [6]},
                         "training": {"batch_size": 4, "max_epochs": 1, "max_attempts": 1}, "replicates": 2},
        "classification": {"architectures": ["cnn1", "cnn3"],
                           "learnable": {"architecture": "cnn1", "sizes": [6, 8], "subsets": 2},
                           "training": {"batch_size": 4, "max_epochs": 1, "max_attempts": 1}, "replicates": 2},
    })
    plans = {"segmentation": [("unet1", None, 0), ("unet2", None, 0)],
             "classification": [("cnn1", None, 0), ("cnn3", None, 0)] + [("cnn1", size, k) for size in (6, 8)
                                                                          for k in range(2)]}
    evaluations = {}
    for task, plan in plans.items():
        dirs = {"virtual_effunet": virtual[task]["efficientunet"]}
        if "pix2pixhd" in virtual[task]:
            dirs["virtual_pix2pixhd"] = virtual[task]["pix2pixhd"]
        units = []
        for architecture, size, subset in plan:
            group = [TaskUnit(task=task, architecture=architecture, modality=modality, train_size=size, subset=subset,
                              replicate=replicate)
                     for modality in ("label_free", *dirs, "fluorescence") for replicate in range(2)]
            folder = root / f"{task}-{architecture}-{size}-{subset}"
            train_units_stage(tasks, group, phantom_datasets, folder, virtual_dirs=dirs, store_uri=store)
            units.append(folder)
        evaluations[task] = root / f"evaluate-{task}"
        evaluate_stage(tasks, task, units, phantom_datasets, evaluations[task], virtual_dirs=dirs, n_boot=200)
    return evaluations, reports


# --- a real S3-speaking server process and stores on it ---

ACCESS_KEY = "stainworth-test-access"
SECRET_KEY = "Zq8-very-secret-value-0451"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (right now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1).close()
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


def wait_until_answering(process: subprocess.Popen, url: str, log_path, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while not answers(url):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait(timeout=10)
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the moto S3 server did not start at {url}:\n{tail}")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """``host:port`` of a moto S3 server subprocess, stopped at the end of the session."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("moto") / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_answering(process, f"http://127.0.0.1:{port}/moto-api/data.json", log_path)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def s3_env(s3_server, monkeypatch):
    """Environment pointing the minio client at the test server (also set in os.environ)."""
    env = {
        "MINIO_ENDPOINT": s3_server,
        "MINIO_ACCESS_KEY": ACCESS_KEY,
        "MINIO_SECRET_KEY": SECRET_KEY,
    }
    for name in ("MINIO_SECURE", "MINIO_REGION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def fresh_bucket(stem: str = "bkt") -> str:
    return f"{stem}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def new_bucket():
    """Make up bucket names no other test uses: ``new_bucket("stem")``."""
    return fresh_bucket


@pytest.fixture
def closed_port():
    """A port on 127.0.0.1 where nothing listens."""
    return free_port()


@pytest.fixture
def s3_store(s3_env):
    """An S3 store under a fresh bucket and prefix."""
    return S3Store(fresh_bucket(), "some/prefix", env=s3_env)


@pytest.fixture(params=["file", "s3"])
def store(request, tmp_path_factory):
    """Each kind of store, for the behaviour they must share (``tmp_path`` stays empty)."""
    if request.param == "file":
        return FileStore(tmp_path_factory.mktemp("filestore") / "root")
    return request.getfixturevalue("s3_store")


class OutageProxy:
    """A TCP forwarder on 127.0.0.1 in front of the S3 server that can be cut and restored.

    ``cut()`` closes the listening socket and every open connection (clients then see refused or
    dropped connections, as when a store's service goes away); ``restore()`` listens again on the
    same port. The server's data is untouched, as after a real outage.
    """

    def __init__(self, target: str) -> None:
        import threading

        host, port = target.rsplit(":", 1)
        self.target = (host, int(port))
        self.port = free_port()
        self.endpoint = f"127.0.0.1:{self.port}"
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        import threading

        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        import threading

        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


@pytest.fixture
def s3_outage(s3_server, s3_env, monkeypatch):
    """An :class:`OutageProxy` in front of the S3 server, and the environment pointing the client at it."""
    proxy = OutageProxy(s3_server)
    monkeypatch.setenv("MINIO_ENDPOINT", proxy.endpoint)
    yield proxy
    proxy.cut()


def write_hcs_plate(path, wells, *, labels, scale_yx=(0.32, 0.32), unit="micrometer", translations=None,
                    ngff="0.4", z_chunk=None):
    """An OME-Zarr HCS plate laid out as iohub writes it (NGFF 0.4 in zarr format 2, or 0.5 in format 3).

    ``wells`` maps ``"A/1"`` to a list of (T, C, Z, Y, X) arrays, one per position ("0", "1", ...);
    ``labels`` are the OMERO channel labels; ``translations`` maps ``"A/1/0"`` to a (y, x) stage
    position in ``unit`` (a ``translation`` transform after the ``scale``). Chunks are one channel's
    z-stack, as iohub's default, or ``z_chunk`` planes of it.
    """
    fmt = 2 if ngff == "0.4" else 3

    def put(group, **meta):
        group.attrs.update(meta if fmt == 2 else {"ome": {"version": ngff, **meta}})

    rows = sorted({w.split("/")[0] for w in wells})
    cols = sorted({w.split("/")[1] for w in wells}, key=int)
    plate = zarr.open_group(path, mode="w", zarr_format=fmt)
    put(plate, plate={
        **({"version": ngff} if fmt == 2 else {}), "name": "plate", "acquisitions": [{"id": 0}],
        "rows": [{"name": r} for r in rows], "columns": [{"name": c} for c in cols],
        "wells": [{"path": w, "rowIndex": rows.index(w.split("/")[0]), "columnIndex": cols.index(w.split("/")[1])}
                  for w in wells],
        "field_count": max(len(p) for p in wells.values()),
    })
    for well, positions in wells.items():
        group = plate.require_group(well)
        put(group, well={"images": [{"path": str(k)} for k in range(len(positions))],
                         **({"version": ngff} if fmt == 2 else {})})
        for k, data in enumerate(positions):
            position = group.create_group(str(k))
            transforms = [{"type": "scale", "scale": [1.0, 1.0, 2.0, *scale_yx]}]
            if translations and f"{well}/{k}" in translations:
                transforms.append({"type": "translation", "translation": [0.0, 0.0, 0.0,
                                                                          *translations[f"{well}/{k}"]]})
            axes = [{"name": "T", "type": "time", "unit": "second"}, {"name": "C", "type": "channel"},
                    *({"name": n, "type": "space", "unit": unit} for n in "ZYX")]
            multiscale = {"axes": axes, "datasets": [{"path": "0", "coordinateTransformations": transforms}],
                          "name": "0", **({"version": ngff} if fmt == 2 else {})}
            channels = [{"active": True, "coefficient": 1.0, "color": "FFFFFF", "family": "linear",
                         "inverted": False, "label": label,
                         "window": {"start": 0.0, "end": 1.0, "min": 0.0, "max": 65535.0}} for label in labels]
            put(position, multiscales=[multiscale],
                omero={"id": 0, "name": str(k), "channels": channels, "rdefs": {"defaultT": 0, "defaultZ": 0,
                                                                                "model": "color",
                                                                                "projection": "normal"},
                       **({"version": ngff} if fmt == 2 else {})})
            chunks = (1, 1, z_chunk or data.shape[2], *data.shape[3:])
            if fmt == 2:
                array = position.create_array("0", shape=data.shape, chunks=chunks, dtype=data.dtype,
                                              chunk_key_encoding={"name": "v2", "separator": "/"})
            else:
                array = position.create_array("0", shape=data.shape, chunks=chunks, dtype=data.dtype,
                                              dimension_names=list("TCZYX"))
            array[...] = data
    return path


@pytest.fixture(scope="session")
def hcs_plate_writer():
    """:func:`write_hcs_plate`, for tests that build their own OME-Zarr plates."""
    return write_hcs_plate


def phantom_position(tile_px=512, *, condition, seed, labels=("Phase3D", "BF", "Lamin A/C", "H3K27me3")):
    """One phantom field as a (1, C, 3, Y, X) float32 position of a plate, and its source planes.

    Label-free ``Phase3D``: z-plane 1 is the retrieved phase, the others are damped (``middle``
    picks it); fluorescence: z-plane 1 holds the counts, the others less (``max`` gives them back).
    ``BF`` is an unused channel (noise). Returns the array and ``{"Phase3D": ..., "Lamin A/C": ...}``.
    """
    config = PhantomConfig.model_validate({"acquisition": {"rows": 1, "cols": 1, "tile_size_px": tile_px}})
    acq = generate_acquisition(config, condition=condition, seed=seed)
    source = {"Phase3D": acq.qpi_tiles[0], "Lamin A/C": acq.fluorescence_tiles["lamin_a_c"][0],
              "H3K27me3": acq.fluorescence_tiles["h3k27me3"][0],
              "BF": np.random.default_rng(seed).normal(100, 5, (tile_px, tile_px)).astype(np.float32)}
    data = np.zeros((1, len(labels), 3, tile_px, tile_px), np.float32)
    for c, label in enumerate(labels):
        plane = source[label].astype(np.float32)
        data[0, c] = np.stack([plane * 0.5, plane, plane * 0.25]) if label == "Phase3D" else \
            np.stack([plane // 2, plane, plane // 3])
    return data, source


@pytest.fixture(scope="session")
def hcs_phantom_position():
    """:func:`phantom_position`: one phantom field as a plate position, with its source planes."""
    return phantom_position


def export_affine_onnx(path, *, out_channels=1):
    """An ONNX model of ``2 x + 1`` (a 1x1 convolution, one channel in, ``out_channels`` out) with dynamic
    batch and spatial axes, exported as a lab would export its stainer."""
    import torch

    conv = torch.nn.Conv2d(1, out_channels, 1)
    with torch.no_grad():
        conv.weight.fill_(2.0)
        conv.bias.fill_(1.0)
    torch.onnx.export(conv.eval(), torch.zeros(1, 1, 32, 32), str(path), dynamo=False, input_names=["x"],
                      output_names=["y"], dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}, "y": {0: "n", 2: "h", 3: "w"}})
    return path


@pytest.fixture(scope="session")
def affine_onnx():
    """:func:`export_affine_onnx`: ``affine_onnx(path, out_channels=1)`` writes the model and returns ``path``."""
    return export_affine_onnx
