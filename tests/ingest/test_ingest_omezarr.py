"""OME-Zarr HCS plates (iohub / VisCy layout): phantom fields written as a plate, then ingested."""

import json

import numpy as np
import pytest
import yaml
import zarr

from stainworth.errors import ConfigError, InputDataError
from stainworth.ingest import PlateIngestSpec, ingest_acquisition, ingest_plate, load_ingest_spec
from stainworth.io.acquisition import load_tile, read_acquisition

FLUORESCENCE = [{"name": "lamin_a_c", "marker": "Lamin A/C", "channel": "Lamin A/C"},
                {"name": "h3k27me3", "marker": "H3K27me3", "channel": "H3K27me3"}]


@pytest.fixture(scope="module")
def positions(hcs_phantom_position):
    return {well: [hcs_phantom_position(128, condition=condition, seed=seed) for seed in seeds]
            for well, condition, seeds in (("A/1", "control", (1, 2)), ("B/2", "treated", (3,)))}


def write_plate(tmp_path, writer, positions, **kwargs):
    wells = {well: [data for data, _ in fields] for well, fields in positions.items()}
    return writer(tmp_path / "plate.zarr", wells, labels=["Phase3D", "BF", "Lamin A/C", "H3K27me3"], **kwargs)


def spec_file(tmp_path, **changes):
    plate = {"path": "plate.zarr", "conditions": {"A/1": "control", "B/2": "treated"}, **changes.pop("plate", {})}
    spec = {"acquisition_id": "plate1", "plate": plate, "label_free": {"modality": "qpi", "channel": "Phase3D"},
            "fluorescence": FLUORESCENCE, **changes}
    path = tmp_path / "ingest.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.mark.parametrize("ngff", ["0.4", "0.5"])
def test_plate_positions_become_fields(tmp_path, hcs_plate_writer, positions, ngff):
    write_plate(tmp_path, hcs_plate_writer, positions, ngff=ngff, scale_yx=(325.0, 325.0), unit="nanometer")
    lines = []
    manifests = ingest_plate(spec_file(tmp_path), tmp_path / "out", progress=lines.append)
    assert [m.acquisition_id for m in manifests] == ["plate1-A1-0", "plate1-A1-1", "plate1-B2-0"]
    assert [m.condition for m in manifests] == ["control", "control", "treated"]
    assert lines[-1] == "read 3/3 positions (plate1-B2-0)"
    for manifest, (_, source) in zip(manifests, positions["A/1"] + positions["B/2"], strict=True):
        folder = tmp_path / "out" / manifest.acquisition_id
        read = read_acquisition(folder)
        assert read.pixel_size_um == pytest.approx(0.325) and read.label_free_modality == "qpi"
        assert [(c.name, c.unit, c.dtype) for c in read.channels] == [
            ("label_free", "rad", "float32"), ("lamin_a_c", "counts", "float32"), ("h3k27me3", "counts", "float32")]
        assert read.tile_size_yx == (128, 128) and [t.position_yx for t in read.tiles] == [(0, 0)]
        np.testing.assert_array_equal(load_tile(folder, read.tiles[0], "label_free"), source["Phase3D"])  # middle
        fluorescence = load_tile(folder, read.tiles[0], "fluorescence")  # max projection, spec order
        np.testing.assert_array_equal(fluorescence[0], source["Lamin A/C"])
        np.testing.assert_array_equal(fluorescence[1], source["H3K27me3"])


def test_z_index_mean_and_unsigned_counts(tmp_path, hcs_plate_writer, positions):
    uint = {well: [(data.astype(np.uint16), source) for data, source in fields] for well, fields in positions.items()}
    write_plate(tmp_path, hcs_plate_writer, uint, z_chunk=2)  # mean and max over chunks of 2 and 1 planes
    fluorescence = [dict(FLUORESCENCE[0], z=0), FLUORESCENCE[1]]
    spec = spec_file(tmp_path, label_free={"modality": "phase_contrast", "channel": "Phase3D", "z": "mean"},
                     fluorescence=fluorescence, plate={"conditions": {"B/2": None}})
    [manifest] = ingest_plate(spec, tmp_path / "out")
    assert manifest.condition is None and [c.dtype for c in manifest.channels] == ["float32", "uint16", "uint16"]
    folder, planes = tmp_path / "out" / "plate1-B2-0", uint["B/2"][0][0][0]
    np.testing.assert_allclose(load_tile(folder, manifest.tiles[0], "label_free"),
                               planes[0].astype(np.float64).mean(axis=0), rtol=1e-6)
    fluorescence = load_tile(folder, manifest.tiles[0], "fluorescence")
    np.testing.assert_array_equal(fluorescence[0], planes[2, 0])  # z index 0
    np.testing.assert_array_equal(fluorescence[1], planes[3].max(axis=0))


def test_wells_not_in_the_map_are_skipped_and_reported(tmp_path, hcs_plate_writer, positions):
    write_plate(tmp_path, hcs_plate_writer, positions)
    lines = []
    manifests = ingest_plate(spec_file(tmp_path, plate={"conditions": {"B/2": "treated"}}), tmp_path / "out",
                             progress=lines.append)
    assert [m.acquisition_id for m in manifests] == ["plate1-B2-0"]
    assert lines[0] == "skipped wells not in plate.conditions: A/1"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["plate1-B2-0"]


@pytest.mark.parametrize("unit, per_um", [("micrometer", 1.0), ("nanometer", 1000.0)])
def test_positions_of_a_well_as_tiles(tmp_path, hcs_plate_writer, unit, per_um):
    from stainworth.contracts.phantom import PhantomConfig
    from stainworth.phantom import generate_acquisition

    config = PhantomConfig.model_validate({"acquisition": {"rows": 2, "cols": 2, "tile_size_px": 128,
                                                           "overlap": 0.2, "stage_jitter_px": 1.0}})
    acq = generate_acquisition(config, condition="treated", seed=4)
    order = [3, 1, 0, 2]  # positions listed out of grid order
    data = [np.stack([acq.qpi_tiles[k], acq.fluorescence_tiles["lamin_a_c"][k].astype(np.float32),
                      acq.fluorescence_tiles["h3k27me3"][k].astype(np.float32)])[None, :, None] for k in order]
    stage = {f"C/3/{p}": (per_um * (5000 + 0.32 * acq.nominal_positions[k][0]),
                          per_um * (-200 + 0.32 * acq.nominal_positions[k][1])) for p, k in enumerate(order)}
    hcs_plate_writer(tmp_path / "plate.zarr", {"C/3": data}, labels=["Phase3D", "Lamin A/C", "H3K27me3"],
                     translations=stage, unit=unit, scale_yx=(0.32 * per_um, 0.32 * per_um))
    spec = spec_file(tmp_path, plate={"conditions": {"C/3": "treated"}, "layout": "tiles"})
    [manifest] = ingest_plate(spec, tmp_path / "out")
    assert manifest.acquisition_id == "plate1-C3" and manifest.condition == "treated"
    assert [(t.row, t.col) for t in manifest.tiles] == acq.tile_index
    assert [t.position_yx for t in manifest.tiles] == [tuple(int(v) for v in p) for p in acq.nominal_positions]
    assert manifest.overlap == pytest.approx(0.2, abs=0.01)
    folder = tmp_path / "out" / "plate1-C3"
    for k, tile in enumerate(manifest.tiles):
        np.testing.assert_array_equal(load_tile(folder, tile, "label_free"), acq.qpi_tiles[k])
        np.testing.assert_array_equal(load_tile(folder, tile, "fluorescence")[1], acq.fluorescence_tiles["h3k27me3"][k])


def test_spec_kinds_are_not_mixed(tmp_path, hcs_plate_writer, positions):
    write_plate(tmp_path, hcs_plate_writer, positions)
    spec = spec_file(tmp_path)
    assert isinstance(load_ingest_spec(spec), PlateIngestSpec)
    with pytest.raises(ConfigError, match="describes an OME-Zarr plate .* ingest it with ingest_plate"):
        ingest_acquisition(spec, tmp_path / "acq")
    tiff_spec = tmp_path / "tiff.yaml"
    tiff_spec.write_text(yaml.safe_dump({"acquisition_id": "a", "pixel_size_um": 0.3,
                                         "label_free": {"modality": "qpi", "files": ["x.tif"]},
                                         "fluorescence": [{"name": "dapi", "marker": "DAPI", "file": "y.tif"}]}))
    with pytest.raises(ConfigError, match="has no 'plate' section"):
        ingest_plate(tiff_spec, tmp_path / "out")


# --- bad input: one line, nothing written ------------------------------------------------------------------------

def refused(tmp_path, spec, error, pattern):
    with pytest.raises(error, match=pattern):
        ingest_plate(spec, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out*"))


def test_missing_channel_name(tmp_path, hcs_plate_writer, positions):
    write_plate(tmp_path, hcs_plate_writer, positions)
    fluorescence = [FLUORESCENCE[0], dict(FLUORESCENCE[1], channel="H3K9me3")]
    refused(tmp_path, spec_file(tmp_path, fluorescence=fluorescence), InputDataError,
            r"plate.zarr/A/1/0 \(spec field fluorescence\[1\].channel\): no channel 'H3K9me3'; the position has "
            r"channels \['Phase3D', 'BF', 'Lamin A/C', 'H3K27me3'\]")


def test_position_without_the_label_free_channel(tmp_path, hcs_plate_writer, positions):
    write_plate(tmp_path, hcs_plate_writer, positions)
    attrs = zarr.open_group(tmp_path / "plate.zarr/B/2/0", mode="r+", zarr_format=2)
    omero = dict(attrs.attrs["omero"])
    omero["channels"] = [dict(c, label="DIC" if c["label"] == "Phase3D" else c["label"]) for c in omero["channels"]]
    attrs.attrs["omero"] = omero
    refused(tmp_path, spec_file(tmp_path), InputDataError,
            r"plate.zarr/B/2/0 \(spec field label_free.channel\): no channel 'Phase3D'; the position has channels "
            r"\['DIC', 'BF', 'Lamin A/C', 'H3K27me3'\]")


def test_mixed_pixel_sizes(tmp_path, hcs_plate_writer, positions):
    write_plate(tmp_path, hcs_plate_writer, positions)
    group = zarr.open_group(tmp_path / "plate.zarr/B/2/0", mode="r+", zarr_format=2)
    multiscales = json.loads(json.dumps(group.attrs["multiscales"]))
    multiscales[0]["datasets"][0]["coordinateTransformations"][0]["scale"][-2:] = [0.65, 0.65]
    group.attrs["multiscales"] = multiscales
    refused(tmp_path, spec_file(tmp_path), InputDataError,
            r"plate.zarr/B/2/0: pixel size 0.65 um but A/1/0 has 0.32 um; expected one pixel size across the "
            r"ingested wells")
    # the spec's pixel size replaces the plate's
    manifests = ingest_plate(spec_file(tmp_path, pixel_size_um=0.5), tmp_path / "out")
    assert {m.pixel_size_um for m in manifests} == {0.5}


def test_well_in_the_map_not_in_the_plate(tmp_path, hcs_plate_writer, positions):
    write_plate(tmp_path, hcs_plate_writer, positions)
    refused(tmp_path, spec_file(tmp_path, plate={"conditions": {"A/1": "control", "C/3": "treated"}}),
            InputDataError, r"plate.zarr \(spec field plate.conditions\): well 'C/3' is not in the plate; the plate "
                            r"has wells \['A/1', 'B/2'\]")


def test_not_an_hcs_plate(tmp_path, hcs_plate_writer, positions):
    refused(tmp_path, spec_file(tmp_path), InputDataError,
            r"plate.zarr \(spec field plate.path\): no such folder; expected an OME-Zarr HCS plate")
    write_plate(tmp_path, hcs_plate_writer, positions)
    refused(tmp_path, spec_file(tmp_path, plate={"path": "plate.zarr/A/1"}), InputDataError,
            r"plate.zarr/A/1 \(spec field plate.path\): found a well of a plate; give the plate's root folder; "
            r"expected an OME-Zarr HCS plate")
    refused(tmp_path, spec_file(tmp_path, plate={"path": "plate.zarr/A/1/0"}), InputDataError,
            r"found an OME-Zarr image \(multiscales\), not a plate")
    (tmp_path / "folder").mkdir()
    refused(tmp_path, spec_file(tmp_path, plate={"path": "folder"}), InputDataError,
            r"folder \(spec field plate.path\): not a zarr group")


def test_bad_t_z_and_units(tmp_path, hcs_plate_writer, positions):
    write_plate(tmp_path, hcs_plate_writer, positions, unit="pixel")
    refused(tmp_path, spec_file(tmp_path, plate={"t": 1}, pixel_size_um=0.3), InputDataError,
            r"plate.zarr/A/1/0 \(spec field plate.t\): t index 1 but the position has 1 t plane\(s\); expected 0 to 0")
    refused(tmp_path, spec_file(tmp_path, label_free={"modality": "qpi", "channel": "Phase3D", "z": 3},
                                pixel_size_um=0.3),
            InputDataError, r"\(spec field label_free.z\): z index 3 but the position has 3 z plane\(s\)")
    refused(tmp_path, spec_file(tmp_path), InputDataError,
            r"plate.zarr/A/1/0: no pixel size \(axis y has unit 'pixel', not a length unit .*\); expected y/x axes "
            r"with a length unit, or set the spec's pixel_size_um")


def test_plate_spec_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"plate.conditions.A1.\[key\]"):
        load_ingest_spec(spec_file(tmp_path, plate={"conditions": {"A1": "control"}}))
    with pytest.raises(ConfigError, match="plate.conditions"):
        load_ingest_spec(spec_file(tmp_path, plate={"conditions": {}}))
    with pytest.raises(ConfigError, match="fluorescence.0.z"):
        load_ingest_spec(spec_file(tmp_path, fluorescence=[dict(FLUORESCENCE[0], z="sum")]))
    with pytest.raises(ConfigError, match="label_free.files"):
        load_ingest_spec(spec_file(tmp_path, label_free={"modality": "qpi", "channel": "Phase3D", "files": ["a"]}))


def test_tiles_that_share_a_stage_position_or_do_not_overlap(tmp_path, hcs_plate_writer):
    data = [np.ones((1, 3, 1, 64, 64), np.float32)] * 2
    labels = ["Phase3D", "Lamin A/C", "H3K27me3"]
    spec = spec_file(tmp_path, plate={"conditions": {"A/1": "control"}, "layout": "tiles"})
    hcs_plate_writer(tmp_path / "plate.zarr", {"A/1": data}, labels=labels,
                     translations={"A/1/0": (100.0, 100.0), "A/1/1": (100.0, 101.0)})
    refused(tmp_path, spec, InputDataError, r"plate.zarr/A/1/1: translation puts it on tile r0 c0 with position 0; "
                                            r"expected the positions of a well \(layout: tiles\) at distinct stage")
    hcs_plate_writer(tmp_path / "plate.zarr", {"A/1": data}, labels=labels,
                     translations={"A/1/0": (0.0, 0.0), "A/1/1": (0.0, 0.32 * 70)})
    refused(tmp_path, spec, InputDataError, r"tiles r0 c0 and r0 c1: positions \(0, 0\) and \(0, 70\) give -6 px of "
                                            r"overlap for 64 px tiles")
    hcs_plate_writer(tmp_path / "plate.zarr", {"A/1": data}, labels=labels, unit="pixel",
                     translations={"A/1/0": (0.0, 0.0), "A/1/1": (0.0, 50.0)})
    refused(tmp_path, spec_file(tmp_path, plate={"conditions": {"A/1": "control"}, "layout": "tiles"},
                                pixel_size_um=0.32), InputDataError,
            r"plate.zarr/A/1/0: its translation has no length unit \(y/x axes without one\); expected stage "
            r"positions in a length unit for layout: tiles")


def test_non_square_pixels_and_nan_pixels(tmp_path, hcs_plate_writer, positions):
    write_plate(tmp_path, hcs_plate_writer, positions, scale_yx=(0.32, 0.4))
    refused(tmp_path, spec_file(tmp_path), InputDataError,
            r"plate.zarr/A/1/0: scale gives pixels of 0.32 um \(y\) x 0.4 um \(x\); expected square, positive pixels")
    nan = {well: [(data.copy(), source) for data, source in fields] for well, fields in positions.items()}
    nan["B/2"][0][0][0, 3, 1, 5, 7] = np.nan  # H3K27me3 of the last position: found after two were written
    write_plate(tmp_path, hcs_plate_writer, nan)
    refused(tmp_path, spec_file(tmp_path), InputDataError,
            r"plate.zarr/B/2/0 \(spec field fluorescence\[1\]\): found 1 NaN or infinite pixels in z-plane 1")
