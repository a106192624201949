"""Build and push the container images: ``python -m stainworth.deploy.images [--no-push]``.

The two images, ``images/cpu.Dockerfile`` and ``images/cuda.Dockerfile``, are built from the
repository root and named as the pipelines name them (:func:`stainworth.images.image_name`):
``<IMAGE_REGISTRY>/stainworth-<cpu|cuda>:<IMAGE_TAG>``, the tag defaulting to the package version.
Both are built before either is pushed, so a failed build never leaves half a release in the
registry.

The engine is ``docker`` when its daemon answers ``docker info``, otherwise ``buildah`` when
``buildah info`` works; with neither, one line says what was looked for and what was found.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from stainworth import __version__
from stainworth.errors import ConfigError, PipelineError, run_command
from stainworth.images import image_name
from stainworth.progress import Progress

KINDS = ("cpu", "cuda")
"""Image kinds, in build order."""
ENGINES = ("docker", "buildah")
"""Container engines, in order of preference."""
PROBE_TIMEOUT_S = 30
"""Longest wait for ``<engine> info`` before the engine counts as unusable."""

_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_COMPONENT = r"[a-z0-9]+(?:[._-]+[a-z0-9]+)*"
_REGISTRY = re.compile(rf"^{_COMPONENT}(?::[0-9]+)?(?:/{_COMPONENT})*$")

Runner = Callable[..., "subprocess.CompletedProcess[Any]"]
"""``subprocess.run`` or a stand-in with the same signature."""


def dockerfile(root: Path, kind: str) -> Path:
    """Path of the Dockerfile of image ``kind`` (``cpu`` or ``cuda``) under the repository ``root``."""
    return root / "images" / f"{kind}.Dockerfile"


@contextmanager
def _image_variables(registry: str | None, tag: str) -> Iterator[None]:
    """Set ``IMAGE_REGISTRY`` (unset when None) and ``IMAGE_TAG`` for the block, then restore them."""
    saved = {name: os.environ.get(name) for name in ("IMAGE_REGISTRY", "IMAGE_TAG")}
    wanted = {"IMAGE_REGISTRY": registry, "IMAGE_TAG": tag}
    try:
        for name, value in wanted.items():
            _set_variable(name, value)
        yield
    finally:
        for name, value in saved.items():
            _set_variable(name, value)


def _set_variable(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def image_reference(kind: str, *, registry: str | None, tag: str) -> str:
    """Reference of image ``kind`` for ``registry`` and ``tag``, named by :func:`stainworth.images.image_name`.

    Parameters
    ----------
    kind
        ``cpu`` or ``cuda``.
    registry
        Registry and path, e.g. ``registry.example.org/lab``; None: the default of
        :func:`~stainworth.images.image_name` (a local name, not pushable).
    tag
        Image tag.
    """
    with _image_variables(registry, tag):
        return image_name(kind)


def check_settings(*, registry: str | None, tag: str, push: bool, root: Path) -> None:
    """Refuse settings that cannot produce the images, with one line each.

    Raises
    ------
    ConfigError
        Pushing without a registry, a registry or tag Docker would refuse, or a ``root`` without
        the Dockerfiles.
    """
    if registry is None and push:
        raise ConfigError("images: IMAGE_REGISTRY is not set; expected the registry to push to "
                          "(e.g. IMAGE_REGISTRY=registry.example.org/lab), or --no-push to build only")
    if registry is not None and not _REGISTRY.match(registry):
        raise ConfigError(f"images: IMAGE_REGISTRY '{registry}': expected lowercase host[:port][/path], "
                          "e.g. registry.example.org:5000/lab")
    if not _TAG.match(tag):
        raise ConfigError(f"images: IMAGE_TAG '{tag}': expected at most 128 letters, digits, '_', '.' or '-', "
                          "not starting with '.' or '-'")
    missing = [str(dockerfile(root, kind)) for kind in KINDS if not dockerfile(root, kind).is_file()]
    if missing:
        raise ConfigError(f"images: {', '.join(missing)} not found; expected the repository root as --root "
                          "(run from the repository root)")


def _first_line(text: str | None) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[0][:200] if lines else ""


def probe_engine(engine: str, *, run: Runner = subprocess.run) -> str | None:
    """Why ``engine`` cannot build images, or None when ``<engine> info`` answers.

    Parameters
    ----------
    engine
        ``docker`` or ``buildah``, looked up on ``PATH``.
    run
        Runs the probe (``subprocess.run`` or a stand-in).

    Returns
    -------
    str or None
        None when the engine answers; otherwise what was found (not on ``PATH``, a daemon that
        does not answer with the engine's first error line, no answer within
        :data:`PROBE_TIMEOUT_S`).
    """
    path = shutil.which(engine)
    if path is None:
        return f"{engine} not found on PATH"
    installed = f"{engine} is installed ({path}) but"
    try:
        result = run([engine, "info"], capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return f"{installed} `{engine} info` did not answer within {PROBE_TIMEOUT_S} s"
    except OSError as error:
        return f"{installed} cannot be started ({error.strerror or error})"
    if result.returncode == 0:
        return None
    detail = _first_line(result.stderr) or _first_line(result.stdout) or f"exit code {result.returncode}"
    trouble = "its daemon does not answer" if engine == "docker" else f"`{engine} info` fails"
    return f"{installed} {trouble} ({detail})"


def find_engine(preferred: str | None = None, *, run: Runner = subprocess.run) -> str:
    """The first usable container engine (``preferred`` only, when given).

    Raises
    ------
    ConfigError
        ``preferred`` is not one of :data:`ENGINES`.
    PipelineError
        No engine is usable; the message names each engine looked for and what was found.
    """
    if preferred is not None and preferred not in ENGINES:
        raise ConfigError(f"images: engine '{preferred}': expected one of {', '.join(ENGINES)}")
    reasons = []
    for engine in (preferred,) if preferred else ENGINES:
        reason = probe_engine(engine, run=run)
        if reason is None:
            return engine
        reasons.append(reason)
    files = " and ".join(f"images/{kind}.Dockerfile" for kind in KINDS)
    raise PipelineError(f"images: no container engine: {'; '.join(reasons)}; install and start one, "
                        f"or build {files} elsewhere from the repository root")


def image_commands(engine: str, *, registry: str | None, tag: str, push: bool, root: Path) -> list[list[str]]:
    """The build commands of both images, then (``push``) their push commands.

    ``docker`` and ``buildah`` take the same ``build --file F --tag T CONTEXT`` and ``push T``;
    ``registry``, ``tag`` and ``root`` are as in :func:`build_images`.
    """
    references = {kind: image_reference(kind, registry=registry, tag=tag) for kind in KINDS}
    builds = [[engine, "build", "--file", str(dockerfile(root, kind)), "--tag", references[kind], str(root)]
              for kind in KINDS]
    pushes = [[engine, "push", references[kind]] for kind in KINDS] if push else []
    return builds + pushes


def build_images(
    *,
    registry: str | None,
    tag: str,
    push: bool,
    root: Path,
    engine: str | None = None,
    run: Runner = subprocess.run,
    stream: TextIO | None = None,
) -> list[list[str]]:
    """Build the CPU and CUDA images and, with ``push``, push them to ``registry``.

    Parameters
    ----------
    registry
        Registry and path the images are named after (``IMAGE_REGISTRY``); None builds local names
        only (:func:`stainworth.images.image_name`'s default) and cannot be pushed.
    tag
        Image tag (``IMAGE_TAG``, by default the package version).
    push
        Push both images after both are built.
    root
        Repository root: the build context, holding ``images/*.Dockerfile``.
    engine
        ``docker`` or ``buildah``; None: the first usable one.
    run
        Runs the commands (``subprocess.run`` or a stand-in); the engine's output is not captured.
    stream
        Where progress lines go (standard output by default).

    Returns
    -------
    list of list of str
        The build and push commands that ran, in order.

    Raises
    ------
    ConfigError
        Bad registry or tag, pushing without a registry, Dockerfiles missing under ``root``.
    PipelineError
        No usable engine, or a build or push that failed (its exit code; the engine's own output
        above says why).
    """
    root = Path(root).resolve()
    check_settings(registry=registry, tag=tag, push=push, root=root)
    chosen = find_engine(engine, run=run)
    commands = image_commands(chosen, registry=registry, tag=tag, push=push, root=root)
    progress = Progress("images", len(commands), stream=stream)
    progress.note(f"{chosen}: {len(KINDS)} images from {root}" + (", then push" if push else ", no push"))
    for command in commands:
        progress.note(f"running {shlex.join(command)}")
        result = run(command, cwd=root, check=False)
        if result.returncode != 0:
            raise PipelineError(f"images: `{shlex.join(command)}` failed with exit code {result.returncode} "
                                "(the engine's output above says why); nothing was pushed after it")
        progress.step(f"{command[1]} {command[-2] if command[1] == 'build' else command[-1]}")
    return commands


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m stainworth.deploy.images",
                                     description="Build the CPU and CUDA images and push them.")
    parser.add_argument("--no-push", dest="push", action="store_false", help="build only")
    parser.add_argument("--registry", default=os.environ.get("IMAGE_REGISTRY") or None,
                        help="registry and path (default: $IMAGE_REGISTRY)")
    parser.add_argument("--tag", default=os.environ.get("IMAGE_TAG") or __version__,
                        help=f"image tag (default: $IMAGE_TAG, else the package version {__version__})")
    parser.add_argument("--engine", choices=ENGINES, default=None, help="container engine (default: the first usable)")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="repository root (default: .)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m stainworth.deploy.images``; one line and a non-zero exit on error."""
    args = _parser().parse_args(argv)

    def build() -> int:
        build_images(registry=args.registry, tag=args.tag, push=args.push, root=args.root, engine=args.engine)
        return 0

    return run_command(build)


if __name__ == "__main__":
    sys.exit(main())
