"""Loading profiles from YAML and applying ``key=value`` overrides from the command line."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from stainworth.contracts.base import validate_model
from stainworth.contracts.profile import Profile
from stainworth.errors import ConfigError

PROFILE_DIR = Path(str(files("stainworth.pipelines"))) / "profiles"


def available_profiles() -> list[str]:
    """Names of the profiles shipped with stainworth."""
    return sorted(path.stem for path in PROFILE_DIR.glob("*.yaml"))


def profile_path(name_or_path: str) -> Path:
    """Resolve a shipped profile name or a path to a YAML file."""
    candidate = Path(name_or_path)
    if candidate.suffix in {".yaml", ".yml"}:
        if not candidate.is_file():
            raise ConfigError(f"profile file {candidate}: not found")
        return candidate
    shipped = PROFILE_DIR / f"{name_or_path}.yaml"
    if not shipped.is_file():
        raise ConfigError(
            f"profile '{name_or_path}': unknown; expected one of {available_profiles()} "
            "or a path to a .yaml file"
        )
    return shipped


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``a.b.c=value`` into its key path and a YAML-parsed value."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override '{text}': expected key=value (e.g. simulate.seed=3)")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with each ``key.path=value`` override set.

    Intermediate keys must already exist (a typo is an error, not a new section).
    """
    result = yaml.safe_load(yaml.safe_dump(data))
    for text in overrides:
        path, value = parse_override(text)
        node = result
        for depth, part in enumerate(path[:-1]):
            child = node.get(part) if isinstance(node, dict) else None
            if child is None:
                child = {}
                node[part] = child
            if not isinstance(child, dict):
                where = ".".join(path[: depth + 1])
                raise ConfigError(f"override '{text}': '{where}' is a value, not a section")
            node = child
        node[path[-1]] = value
    return result


def load_profile(name_or_path: str, overrides: list[str] | None = None) -> Profile:
    """Load a profile by name or path, apply overrides, and validate the result.

    Raises
    ------
    ConfigError
        One line naming the file or field, the value found and what was expected.
    """
    path = profile_path(name_or_path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"profile file {path}: not valid YAML ({error})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"profile file {path}: expected a mapping at the top, found {type(data).__name__}")
    data = apply_overrides(data, overrides or [])
    where = f"profile {path.name}" + (" with overrides" if overrides else "")
    return validate_model(Profile, data, where=where)


def save_profile(profile: Profile, path: str | Path) -> Path:
    """Write a profile (all fields, defaults included) as YAML."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(profile.model_dump(mode="json"), sort_keys=False))
    return target
