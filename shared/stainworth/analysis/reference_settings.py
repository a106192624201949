"""The phantom settings of the reference-observer table: the default and two values of each new axis.

The new axes are the three kinds of modality-specific treatment effects of ``docs/phantom.md``
section 4 (:class:`~stainworth.contracts.phantom.TreatmentConfig`,
:class:`~stainworth.contracts.phantom.FluorescenceConfig`):

* ``marker_only``: ``treatment.h3k27me3_loss``, ``h3k27me3_variation_increase``,
  ``foci_h3k27me3_shell``, ``h3k27me3_peripheral_gain`` (seen by the H3K27me3 image only);
* ``phase_only``: ``treatment.dry_mass_dilution`` (seen by the phase only);
* ``texture_coupling``: ``fluorescence.h3k27me3_texture_coupling`` and
  ``fluorescence.h3k27me3_foci_fraction`` (how much texture and foci the two modalities share).

The first two get ``off`` (every field of the group at its neutral value 0: each effect multiplies
its quantity by ``1 +/- w e``, so ``w = 0`` leaves the cell as it was) and ``doubled`` (every
default weight times 2, clipped to the field's bounds). The coupling axis gets ``coupled``
(1.0 / 1.0: one texture, every focus marked, the phantom before section 4's effects) and
``uncoupled`` (0.0 / 0.0). ``coupled`` is the axis' "off": the modality-specific part vanishes.
Every other value stays as in the base configuration. Nothing here depends on a measured result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import annotated_types

from stainworth.contracts.base import StrictModel
from stainworth.contracts.phantom import PhantomConfig
from stainworth.errors import ConfigError

AXES: dict[str, tuple[str, tuple[str, ...]]] = {
    "marker_only": ("treatment", ("h3k27me3_loss", "h3k27me3_variation_increase", "foci_h3k27me3_shell",
                                  "h3k27me3_peripheral_gain")),
    "phase_only": ("treatment", ("dry_mass_dilution",)),
    "texture_coupling": ("fluorescence", ("h3k27me3_texture_coupling", "h3k27me3_foci_fraction")),
}
"""Axis name -> (section of :class:`PhantomConfig`, its fields)."""
NEUTRAL_WEIGHT = 0.0
"""The value of a treatment weight at which its effect vanishes (``1 +/- 0 e = 1``)."""
COUPLED, UNCOUPLED = 1.0, 0.0
"""The two values of the coupling axis (both of its fields)."""
OFF_LEVELS = ("off", "coupled")
"""The level of each axis at which its modality-specific effect vanishes."""


@dataclass(frozen=True)
class PhantomSetting:
    """One phantom setting of the table: a named set of overrides of the base configuration.

    Attributes
    ----------
    axis : str
        ``default`` or one of :data:`AXES`.
    level : str
        ``default``, ``off``, ``doubled``, ``coupled`` or ``uncoupled``.
    overrides : dict
        ``{section: {field: value}}`` applied to the base configuration.
    """

    axis: str
    level: str
    overrides: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """``default`` or ``<axis>:<level>`` (e.g. ``marker_only:off``)."""
        return "default" if self.axis == "default" else f"{self.axis}:{self.level}"

    @property
    def is_off(self) -> bool:
        """The default, or the level of an axis at which its effect vanishes."""
        return self.axis == "default" or self.level in OFF_LEVELS

    def describe(self) -> str:
        """The overrides in words, e.g. ``treatment.dry_mass_dilution=0.2`` (``defaults`` when none)."""
        parts = [f"{section}.{name}={value:g}" for section, values in self.overrides.items()
                 for name, value in values.items()]
        return ", ".join(parts) or "defaults"

    def apply(self, base: PhantomConfig) -> PhantomConfig:
        """The base configuration with this setting's overrides, validated."""
        data: dict[str, Any] = base.model_dump()
        for section, values in self.overrides.items():
            data[section] = {**data[section], **values}
        return PhantomConfig.model_validate(data)


def _bounds(model: StrictModel, name: str) -> tuple[float, float]:
    """(lower, upper) bounds of a float field of a contract model (``-inf``/``inf`` when open)."""
    low, high = float("-inf"), float("inf")
    for item in type(model).model_fields[name].metadata:
        if isinstance(item, (annotated_types.Ge, annotated_types.Gt)):
            low = float(getattr(item, "ge", getattr(item, "gt", low)))
        if isinstance(item, (annotated_types.Le, annotated_types.Lt)):
            high = float(getattr(item, "le", getattr(item, "lt", high)))
    return low, high


def _doubled(model: StrictModel, names: tuple[str, ...]) -> dict[str, float]:
    values = {}
    for name in names:
        low, high = _bounds(model, name)
        values[name] = min(max(2.0 * float(getattr(model, name)), low), high)
    return values


def axis_settings(base: PhantomConfig | None = None) -> list[PhantomSetting]:
    """The seven settings: the base configuration, then two values of each axis.

    Parameters
    ----------
    base
        The configuration the axes are varied around (default: :class:`PhantomConfig` defaults).

    Returns
    -------
    list of PhantomSetting
        ``default``, ``marker_only:off``, ``marker_only:doubled``, ``phase_only:off``,
        ``phase_only:doubled``, ``texture_coupling:coupled``, ``texture_coupling:uncoupled``.

    Examples
    --------
    >>> [s.name for s in axis_settings()][:3]
    ['default', 'marker_only:off', 'marker_only:doubled']
    >>> axis_settings()[4].describe()
    'treatment.dry_mass_dilution=0.2'
    """
    base = base or PhantomConfig()
    settings = [PhantomSetting("default", "default")]
    for axis, (section, names) in AXES.items():
        model: StrictModel = getattr(base, section)
        if axis == "texture_coupling":
            levels = {"coupled": dict.fromkeys(names, COUPLED), "uncoupled": dict.fromkeys(names, UNCOUPLED)}
        else:
            levels = {"off": dict.fromkeys(names, NEUTRAL_WEIGHT), "doubled": _doubled(model, names)}
        settings += [PhantomSetting(axis, level, {section: values}) for level, values in levels.items()]
    return settings


def select_settings(settings: list[PhantomSetting], names: list[str]) -> list[PhantomSetting]:
    """The settings named in ``names``, in table order.

    Raises
    ------
    ConfigError
        A name that is not a setting, listing the valid ones.
    """
    known = {setting.name: setting for setting in settings}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ConfigError(f"settings {unknown}: unknown; expected names among {list(known)}")
    return [setting for setting in settings if setting.name in names]
