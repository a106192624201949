"""The pipelines' parameters: profile sections passed as dicts, their defaults the profile's values.

Every pipeline takes some of the same parameters (``prepare_config``, ``store_uri``, ...). The
decorator :func:`profile_pipeline` fills their defaults from the profile in one place, so the
pipeline functions list only names and types, and the compiled pipeline shows the profile it was
built from.
"""

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from kfp import dsl

from stainworth.contracts.profile import Profile
from stainworth.errors import PipelineError

LOCAL_SLOTS = 2
"""Loop iterations kfp.local runs at once: a local run deals its trainings, and its acquisitions, to as many tasks."""
SECTIONS = {"prepare_config": "prepare", "simulate_config": "simulate", "stain_config": "stain",
            "tasks_config": "tasks", "retrain_config": "retrain"}
"""Pipeline parameter → the profile section it carries (as a JSON dict, unset fields left out)."""


def parameter_defaults(profile: Profile) -> dict[str, Any]:
    """Every profile-backed pipeline parameter with its default: the sections of :data:`SECTIONS` and ``store_uri``."""
    sections = {name: getattr(profile, section).model_dump(mode="json", exclude_none=True)
                for name, section in SECTIONS.items()}
    return sections | {"store_uri": profile.cluster.store_uri}


def profile_pipeline(profile: Profile, *, name: str, description: str,
                     defaults: Mapping[str, Any] | None = None) -> Callable[[Callable[..., Any]], Any]:
    """``dsl.pipeline(name=, description=)`` whose parameters default to ``profile``'s values.

    Each parameter of the decorated function gets its default from :func:`parameter_defaults`, or
    from ``defaults`` where given (a pipeline's own variant of a section). A parameter that is in
    neither raises :class:`~stainworth.errors.PipelineError` naming it.
    """
    known = parameter_defaults(profile) | dict(defaults or {})

    def decorate(func: Callable[..., Any]) -> Any:
        signature = inspect.signature(func)
        unknown = [parameter for parameter in signature.parameters if parameter not in known]
        if unknown:
            raise PipelineError(f"pipeline '{name}': parameters {unknown} have no default from the profile; "
                                f"expected some of {sorted(known)}")
        func.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[parameter.replace(default=known[parameter.name])
                        for parameter in signature.parameters.values()])
        return dsl.pipeline(name=name, description=description)(func)

    return decorate
