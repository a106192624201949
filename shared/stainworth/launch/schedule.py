"""``make schedule``: a Kubeflow recurring run of a pipeline, on a cron schedule checked before upload.

Kubeflow Pipelines' cron has six fields, seconds first (``0 0 2 * * *``: every day at 02:00:00),
unlike the five of crontab; a five-field expression would be read with its minutes as seconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stainworth.contracts.profile import Profile
from stainworth.errors import ConfigError
from stainworth.launch.cluster import api_call, connect, submit_version
from stainworth.launch.compile import compile_pipeline

FIELDS = (("seconds", 0, 59), ("minutes", 0, 59), ("hours", 0, 23), ("day of month", 1, 31),
          ("month", 1, 12), ("day of week", 0, 6))
_NAMES = {"month": "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(),
          "day of week": "SUN MON TUE WED THU FRI SAT".split()}
_ITEM = re.compile(r"^(?:\*|\?|(?P<low>[0-9A-Z]+)(?:-(?P<high>[0-9A-Z]+))?)(?:/(?P<step>[0-9]+))?$")


def _value(text: str, name: str, low: int, high: int, expression: str) -> int:
    names = _NAMES.get(name, [])
    if text in names:
        return names.index(text) + (1 if name == "month" else 0)
    if not text.isdigit() or not low <= int(text) <= high:
        raise ConfigError(f"CRON='{expression}': {name} field has '{text}'; expected {low}-{high}"
                          + (f" or {names[0]}..{names[-1]}" if names else ""))
    return int(text)


def check_cron(expression: str) -> str:
    """Return ``expression`` if it is a six-field Kubeflow cron schedule (seconds first); else one clear line.

    Each field: ``*``, ``?`` (day fields), a value, a range ``a-b``, any of those with ``/step``, or
    a comma list of them; months and weekdays also by name (``JAN``, ``MON``).

    The check is written here, not taken from croniter: croniter is not a dependency (neither in
    ``pyproject.toml`` nor in ``requirements.lock``); its six-field form puts the seconds *last*
    unless ``second_at_beginning=True``; it accepts what the Go parser behind KFP's recurring runs
    (``robfig/cron``, six fields, seconds first, weekdays 0-6, see
    :meth:`kfp.client.Client.create_recurring_run`) refuses: ``L``, ``#`` and hashed ``H`` fields
    and weekday 7; and its errors name the expression, not the field, whereas this check says
    which field is wrong and, for a five-field crontab line, which six-field one was meant.
    """
    fields = expression.upper().split()
    if len(fields) != len(FIELDS):
        hint = (f"; KFP cron has six fields, seconds first: try '0 {expression.strip()}'"
                if len(fields) == 5 else "")
        raise ConfigError(f"CRON='{expression}': {len(fields)} field(s); expected 6 "
                          f"(seconds minutes hours day-of-month month day-of-week){hint}")
    for text, (name, low, high) in zip(fields, FIELDS, strict=True):
        for item in text.split(","):
            match = _ITEM.match(item)
            if not match or (item.startswith("?") and name not in ("day of month", "day of week")):
                raise ConfigError(f"CRON='{expression}': {name} field has '{item}'; expected *, a value, "
                                  "a range a-b, a step */n or a list")
            if match["low"]:
                first = _value(match["low"], name, low, high, expression)
                if match["high"] and _value(match["high"], name, low, high, expression) < first:
                    raise ConfigError(f"CRON='{expression}': {name} field has the range '{item}' backwards")
            if match["step"] is not None and int(match["step"]) == 0:
                raise ConfigError(f"CRON='{expression}': {name} field has step 0 in '{item}'")
    return expression


@dataclass(frozen=True)
class Schedule:
    """A recurring run created on Kubeflow."""

    recurring_run_id: str
    name: str
    cron: str


def schedule_cluster(name: str, profile: Profile, *, host: str, cron: str,
                     dist_dir: str = "dist/pipelines") -> Schedule:
    """Compile ``name``, upload it as a pipeline version and create a recurring run on ``cron``.

    At most one run at a time (a slow retraining is not overlapped by the next), no catch-up of
    missed times after a pause.
    """
    check_cron(cron)
    package = compile_pipeline(name, profile, dist_dir)
    client = connect(host)
    with api_call(host, f"creating a recurring run of stainworth-{name}-{profile.name}"):
        submission = submit_version(client, name, profile, package)
        job_name = f"{name}-{profile.name}-schedule-{submission.stamp}"
        job = client.create_recurring_run(experiment_id=submission.experiment_id, job_name=job_name,
                                          cron_expression=cron, max_concurrency=1, no_catchup=True,
                                          pipeline_id=submission.pipeline_id, version_id=submission.version_id,
                                          enabled=True)
    return Schedule(recurring_run_id=job.recurring_run_id, name=job_name, cron=cron)
