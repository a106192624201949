import ast
import inspect

import pytest
from pydantic import ValidationError

from stainworth.contracts import phantom as phantom_contract
from stainworth.contracts.phantom import AcquisitionConfig, PhantomConfig
from stainworth.errors import ConfigError
from stainworth.phantom import generate_acquisition


def test_defaults_validate_and_round_trip_through_json():
    config = PhantomConfig()
    again = PhantomConfig.model_validate(config.model_dump(mode="json"))
    assert again == config
    assert config.optics.pixel_size_um == 0.32
    assert config.acquisition.mosaic_shape == (2150, 2150)


def test_every_field_has_a_docstring():
    tree = ast.parse(inspect.getsource(phantom_contract))
    classes = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    assert len(classes) == 6
    for cls in classes:
        body = cls.body
        for node, following in zip(body, [*body[1:], None], strict=True):
            if isinstance(node, ast.AnnAssign):
                documented = isinstance(following, ast.Expr) and isinstance(
                    following.value, ast.Constant) and isinstance(following.value.value, str)
                assert documented, f"{cls.name}.{node.target.id} has no docstring"


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        ({"acquisition": {"overlap": 1.0}}, r"acquisition\.overlap"),
        ({"acquisition": {"tile_size_px": 64, "overlap": 0.995, "stage_jitter_px": 0}},
         r"overlap 0\.995 of tile_size_px 64 leaves no positive step"),
        ({"acquisition": {"tile_size_px": 32}}, r"acquisition\.tile_size_px"),
        ({"acquisition": {"stage_jitter_px": 10.0, "tile_size_px": 256}},
         r"overlap of 26 px .* must exceed twice the stage jitter clip \(60 px"),
        ({"acquisition": {"rows": 64, "cols": 64, "tile_size_px": 8192}}, r"exceeds 200000000 px"),
        ({"cells": {"density_per_mm2": -5}}, r"cells\.density_per_mm2"),
        ({"optics": {"defocus_um": -1.0}}, r"optics\.defocus_um"),
        ({"fluorescence": {"read_noise_electrons": -0.1}}, r"fluorescence\.read_noise_electrons"),
        ({"treatment": {"strength": 1.5}}, r"treatment\.strength"),
        ({"cells": {"nucleus_index": [1.365, 1.355]}},
         r"nucleus_index must be a \(low, high\) range with low <= high; found \(1\.365, 1\.355\)"),
        ({"cells": {"cytoplasm_thickness_um": [-1.0, 2.0]}}, r"cells\.cytoplasm_thickness_um"),
        ({"cells": {"nucleus_radius_um": [4.0, 12.0]}},
         r"nucleus_radius_um \(4\.0, 12\.0\) must stay below cell_radius_um"),
        ({"optics": {"condenser_na": 0.6}},
         r"condenser_na \(0\.6\) must not exceed objective_na \(0\.4\)"),
        ({"acquisition": {"tile_size_px": 64, "stage_jitter_px": 0.0}},
         r"tile of 20\.5 um .* smaller than a cell"),
        ({"cells": {"colour": "red"}}, r"cells\.colour"),
        ({"treatment": {"h3k27me3_loss": 0.95}}, r"treatment\.h3k27me3_loss"),
        ({"treatment": {"h3k27me3_variation_increase": -0.1}},
         r"treatment\.h3k27me3_variation_increase"),
        ({"treatment": {"foci_h3k27me3_shell": 1.2}}, r"treatment\.foci_h3k27me3_shell"),
        ({"treatment": {"h3k27me3_peripheral_gain": -2.0}}, r"treatment\.h3k27me3_peripheral_gain"),
        ({"treatment": {"dry_mass_dilution": 1.0}}, r"treatment\.dry_mass_dilution"),
        ({"treatment": {"nuclear_irregularity": -1.0}}, r"treatment\.nuclear_irregularity"),
        ({"treatment": {"lamin_rim_modulation_increase": 25.0}},
         r"treatment\.lamin_rim_modulation_increase"),
        ({"fluorescence": {"h3k27me3_texture_coupling": 1.1}},
         r"fluorescence\.h3k27me3_texture_coupling"),
        ({"fluorescence": {"h3k27me3_foci_fraction": -0.1}},
         r"fluorescence\.h3k27me3_foci_fraction"),
        ({"fluorescence": {"h3k27me3_cell_variation": 3.0}},
         r"fluorescence\.h3k27me3_cell_variation"),
        ({"fluorescence": {"lamin_rim_modulation": 1.5}}, r"fluorescence\.lamin_rim_modulation"),
    ],
)
def test_invalid_values_name_the_field(data, pattern):
    with pytest.raises(ValidationError, match=pattern):
        PhantomConfig.model_validate(data)


def test_assignment_is_validated():
    config = AcquisitionConfig()
    with pytest.raises(ValidationError, match="tile_size_px"):
        config.tile_size_px = 10


def test_step_and_jitter_clip_follow_the_config():
    config = AcquisitionConfig(tile_size_px=256, overlap=0.1, stage_jitter_px=1.5, rows=2, cols=3)
    assert config.step_px == 230
    assert config.jitter_clip_px == 5
    assert config.mosaic_shape == (486, 716)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"condition": "sham", "seed": 0}, r"condition must be one of .* found 'sham'"),
        ({"condition": "control", "seed": -1}, r"seed must be a non-negative integer; found -1"),
        ({"condition": "control", "seed": 1.5}, r"seed must be a non-negative integer; found 1\.5"),
    ],
)
def test_generate_rejects_bad_arguments(kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern):
        generate_acquisition(PhantomConfig(), **kwargs)
