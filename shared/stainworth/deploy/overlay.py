"""A kustomize overlay's cluster settings, read from its ``gpu-pool.env`` into a profile's ``cluster`` section.

One file is the single source of the GPU pool's placement: the overlay's ``configMapGenerator``
turns it into the ConfigMap ``stainworth-gpu-pool`` (a record on the cluster, also read by the
buckets Job), and :func:`cluster_settings` turns it into the node selector and toleration the
pipelines' training tasks get. The format is kustomize's env file: ``KEY=VALUE`` lines, blank
lines and ``#`` comments; the value is everything after the first ``=``, taken literally.

Keys (the five ``GPU_*`` keys are required; an empty value is written ``KEY=``):

- ``GPU_NODE_LABEL_KEY``, ``GPU_NODE_LABEL_VALUE``: the label of the GPU pool's nodes (both
  empty: no node selector);
- ``GPU_TAINT_KEY``, ``GPU_TAINT_VALUE``, ``GPU_TAINT_EFFECT``: the pool's taint (all three
  empty: an untainted pool); an empty value makes the toleration's operator ``Exists``; the
  effect is ``NoSchedule``, ``PreferNoSchedule`` or ``NoExecute``;
- ``MINIO_ENDPOINT`` (optional): the store's S3 endpoint as seen from the pods (host:port or URL);
- ``STORE_URI`` (optional): ``s3://bucket/prefix`` of stainworth's store;
- ``SCRATCH_PVC`` (optional): the PersistentVolumeClaim mounted as the tasks' scratch space.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stainworth.errors import ConfigError

ENV_FILE = "gpu-pool.env"
"""Name of the settings file inside an overlay folder."""
REQUIRED_KEYS = ("GPU_NODE_LABEL_KEY", "GPU_NODE_LABEL_VALUE", "GPU_TAINT_KEY", "GPU_TAINT_VALUE",
                 "GPU_TAINT_EFFECT")
OPTIONAL_KEYS = {"MINIO_ENDPOINT": "minio_endpoint", "STORE_URI": "store_uri", "SCRATCH_PVC": "scratch_pvc"}
"""Optional keys and the ``ClusterConfig`` fields they set."""
KNOWN_KEYS = (*REQUIRED_KEYS, *OPTIONAL_KEYS)
EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")

_DNS_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN = re.compile(rf"^{_DNS_LABEL}(?:\.{_DNS_LABEL})*$")
_DNS_LABEL_ONLY = re.compile(rf"^{_DNS_LABEL}$")
_NAME = re.compile(r"^[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_ENDPOINT = re.compile(r"^(?:https?://)?[A-Za-z0-9.-]+(?::[0-9]{1,5})?/?$")
_STORE = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](?:/[A-Za-z0-9._/-]*)?$")
_UPPER_WORD = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
_CREDENTIAL_WORDS = ("SECRET", "ACCESS", "PASSWORD", "TOKEN", "KEY_ID")

Entry = tuple[int, str]
"""Line number and value of one key."""


def settings_file(overlay_dir: str | Path) -> Path:
    """``<overlay_dir>/gpu-pool.env`` (``overlay_dir`` may also name the file itself)."""
    path = Path(overlay_dir)
    return path if path.name == ENV_FILE and not path.is_dir() else path / ENV_FILE


def read_env_file(path: Path) -> dict[str, Entry]:
    """The ``KEY=VALUE`` lines of ``path``: key → (line number, value).

    Raises
    ------
    ConfigError
        Missing or non-UTF-8 file, a line without ``=``, an unknown or repeated key, spaces around
        ``=``.
    """
    if not path.is_file():
        raise ConfigError(f"{path}: not found; expected the overlay's GPU pool settings as KEY=VALUE lines "
                          "(see manifests/overlays/example/gpu-pool.env)")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: byte {error.start} is not UTF-8; expected a text file of KEY=VALUE lines") from None
    entries: dict[str, Entry] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, value = _split_line(path, number, line)
        if key in entries:
            raise ConfigError(f"{path}:{number}: {key} repeats line {entries[key][0]}; expected each key once")
        entries[key] = (number, value)
    return entries


def _split_line(path: Path, number: int, line: str) -> tuple[str, str]:
    key, sep, value = line.partition("=")
    where = f"{path}:{number}"
    if not sep:
        # Only a key-like word is echoed: a stray line may be a pasted credential.
        shown = f"'{line.strip()}'" if _UPPER_WORD.match(line.strip()) else f"a line of {len(line)} characters"
        raise ConfigError(f"{where}: {shown} without '='; expected KEY=VALUE (an empty value is written KEY=)")
    if _looks_like_credential(key.strip()):
        raise ConfigError(f"{where}: {key.strip()}: credentials do not belong in {ENV_FILE} (it becomes a "
                          "ConfigMap); expected them in the Secret stainworth-minio (docs/deploy.md)")
    if key.strip() not in KNOWN_KEYS:
        raise ConfigError(f"{where}: unknown key '{key.strip()}'; expected one of {', '.join(KNOWN_KEYS)}")
    if key != key.strip() or value != value.strip():
        raise ConfigError(f"{where}: {key.strip()}: spaces around the key or value (kustomize keeps them); "
                          f"expected {key.strip()}=VALUE without spaces")
    return key, value


def _looks_like_credential(key: str) -> bool:
    return key not in KNOWN_KEYS and any(word in key.upper() for word in _CREDENTIAL_WORDS)


def _qualified_name(value: str) -> bool:
    """A Kubernetes label or taint key: ``[prefix/]name``, prefix a DNS subdomain (<= 253), name <= 63."""
    prefix, slash, name = value.rpartition("/")
    if slash and not (0 < len(prefix) <= 253 and _DNS_SUBDOMAIN.match(prefix)):
        return False
    return 0 < len(name) <= 63 and bool(_NAME.match(name))


def _label_value(value: str) -> bool:
    """A Kubernetes label or taint value: empty, or <= 63 alphanumerics with ``-_.`` inside."""
    return value == "" or (len(value) <= 63 and bool(_NAME.match(value)))


def _require_keys(path: Path, entries: dict[str, Entry]) -> None:
    """Refuse a file without one of :data:`REQUIRED_KEYS`."""
    for key in REQUIRED_KEYS:
        if key not in entries:
            raise ConfigError(f"{path}: {key} missing; expected a line {key}=... "
                              "(see manifests/overlays/example/gpu-pool.env)")


def _value(path: Path, entries: dict[str, Entry], key: str, check: Callable[[str], bool], expected: str) -> str:
    """The value of ``key``, checked; one line naming the file, line, value and expectation."""
    number, value = entries[key]
    if not check(value):
        raise ConfigError(f"{path}:{number}: {key}='{value}': expected {expected}")
    return value


def _empty_too(path: Path, entries: dict[str, Entry], key: str, others: tuple[str, ...], meaning: str) -> None:
    """Refuse a value in ``others`` while ``key`` is empty."""
    for other in others:
        number, value = entries[other]
        if value:
            raise ConfigError(f"{path}:{number}: {other}='{value}' while {key} is empty; expected "
                              f"{' and '.join(others)} empty too ({meaning}), or {key} set")


_KEY_TEXT = "a label key such as stainworth.io/pool ([prefix/]name, name at most 63 characters), or empty"
_VALUE_TEXT = "at most 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric, or empty"


def _node_selector(path: Path, entries: dict[str, Entry]) -> dict[str, str]:
    key = _value(path, entries, "GPU_NODE_LABEL_KEY", lambda v: v == "" or _qualified_name(v), _KEY_TEXT)
    value = _value(path, entries, "GPU_NODE_LABEL_VALUE", _label_value, _VALUE_TEXT)
    if not key:
        _empty_too(path, entries, "GPU_NODE_LABEL_KEY", ("GPU_NODE_LABEL_VALUE",), "no node selector")
        return {}
    return {key: value}


def _toleration(path: Path, entries: dict[str, Entry]) -> dict[str, Any] | None:
    key = _value(path, entries, "GPU_TAINT_KEY", lambda v: v == "" or _qualified_name(v),
                 _KEY_TEXT.replace("stainworth.io/pool", "nvidia.com/gpu"))
    value = _value(path, entries, "GPU_TAINT_VALUE", _label_value, _VALUE_TEXT)
    if not key:
        _empty_too(path, entries, "GPU_TAINT_KEY", ("GPU_TAINT_VALUE", "GPU_TAINT_EFFECT"), "an untainted pool")
        return None
    effect = _value(path, entries, "GPU_TAINT_EFFECT", lambda v: v in EFFECTS, f"one of {', '.join(EFFECTS)}")
    return {"key": key, "operator": "Equal" if value else "Exists", "value": value or None, "effect": effect}


_OPTIONAL_CHECKS: dict[str, tuple[Callable[[str], bool], str]] = {
    "MINIO_ENDPOINT": (lambda v: bool(_ENDPOINT.match(v)), "host:port or http(s)://host:port, e.g. "
                       "minio-service.kubeflow:9000"),
    "STORE_URI": (lambda v: bool(_STORE.match(v)), "s3://bucket/prefix with a valid bucket name, e.g. "
                  "s3://stainworth/store"),
    "SCRATCH_PVC": (lambda v: len(v) <= 63 and bool(_DNS_LABEL_ONLY.match(v)), "a PersistentVolumeClaim name "
                    "(at most 63 lowercase letters, digits and '-'), e.g. stainworth-scratch"),
}


def _optional(path: Path, entries: dict[str, Entry]) -> dict[str, str]:
    settings = {}
    for key, field in OPTIONAL_KEYS.items():
        if key in entries:
            check, expected = _OPTIONAL_CHECKS[key]
            settings[field] = _value(path, entries, key, check, expected)
    return settings


def cluster_settings(overlay_dir: str | Path) -> dict[str, Any]:
    """The ``cluster`` fields an overlay's ``gpu-pool.env`` sets, to merge into a profile.

    Parameters
    ----------
    overlay_dir
        A kustomize overlay folder holding ``gpu-pool.env`` (or the file itself).

    Returns
    -------
    dict
        ``gpu_node_selector`` (``{label key: value}``, empty when the label key is empty),
        ``gpu_toleration`` (``key``, ``operator`` — ``Exists`` for an empty taint value, else
        ``Equal`` — ``value``, ``effect``; None when the taint key is empty) and, when the file
        sets them, ``minio_endpoint``, ``store_uri`` and ``scratch_pvc``: a partial
        :class:`~stainworth.contracts.cluster.ClusterConfig`.

    Raises
    ------
    ConfigError
        One line naming the file and line (or the missing key), the value found and what was
        expected. Values of keys that look like credentials are never shown.

    Examples
    --------
    >>> cluster_settings("manifests/overlays/example")["gpu_node_selector"]  # doctest: +SKIP
    {'stainworth.io/pool': 'gpu'}
    """
    path = settings_file(overlay_dir)
    entries = read_env_file(path)
    _require_keys(path, entries)
    return {"gpu_node_selector": _node_selector(path, entries), "gpu_toleration": _toleration(path, entries),
            **_optional(path, entries)}
