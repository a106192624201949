"""Cluster target: upload a compiled pipeline to Kubeflow and start a run in an experiment."""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from stainworth.contracts.profile import Profile
from stainworth.errors import PipelineError
from stainworth.launch.compile import compile_pipeline


@dataclass(frozen=True)
class ClusterRun:
    """A run started on Kubeflow Pipelines."""

    run_id: str
    url: str
    package: Path


def run_url(host: str, run_id: str) -> str:
    """Address of a run's page in the Kubeflow Pipelines UI."""
    return f"{host.rstrip('/')}/#/runs/details/{run_id}"


def connect(host: str):  # noqa: ANN201 - kfp.Client is imported lazily
    """A ``kfp.Client`` for ``host``; one clear line when the API cannot be reached.

    The token comes from ``KFP_TOKEN`` and the namespace from ``KFP_NAMESPACE`` when set.
    """
    import kfp

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return kfp.Client(
                host=host,
                existing_token=os.environ.get("KFP_TOKEN") or None,
                namespace=os.environ.get("KFP_NAMESPACE", "kubeflow"),
            )
    except Exception as error:  # the client raises many transport-specific types
        reason = " ".join(str(error).split())[:200]
        raise PipelineError(
            f"KFP_HOST={host}: cannot reach the Kubeflow Pipelines API ({type(error).__name__}: {reason})"
        ) from None


@dataclass(frozen=True)
class Submission:
    """A compiled pipeline uploaded as a version, and the experiment its runs go into."""

    experiment_id: str
    pipeline_id: str
    version_id: str
    stamp: str
    """UTC time of the submission (``YYYYmmdd-HHMMSS``), part of the version's and the run's names."""


def submit_version(client, name: str, profile: Profile, package: Path) -> Submission:  # noqa: ANN001
    """Create (or reuse) the experiment; upload ``package`` as a version of ``stainworth-<name>-<profile>``.

    Raises whatever the client raises; callers turn it into one line.
    """
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    pipeline_name = f"stainworth-{name}-{profile.name}"
    experiment = client.create_experiment(name=profile.cluster.experiment,
                                          namespace=os.environ.get("KFP_NAMESPACE") or None)
    pipeline_id, version_id = upload_version(client, package, pipeline_name, f"{pipeline_name}-{stamp}")
    return Submission(experiment.experiment_id, pipeline_id, version_id, stamp)


@contextmanager
def api_call(host: str, what: str) -> Iterator[None]:
    """Turn a failed API call (``ApiException`` and transport errors carry multi-line bodies) into one line."""
    try:
        yield
    except PipelineError:
        raise
    except Exception as error:  # the client raises many transport-specific types
        reason = " ".join(str(error).split())[:200]
        raise PipelineError(f"KFP_HOST={host}: {what} failed ({reason})") from None


def run_cluster(
    name: str, profile: Profile, *, host: str, dist_dir: str | Path = "dist/pipelines"
) -> ClusterRun:
    """Compile ``name`` with ``profile``, upload it as a pipeline version, start a run.

    The pipeline is filed as ``stainworth-<name>-<profile>`` in the Kubeflow pipeline registry
    (a new version per submission, so the dashboard can start it again) and the run goes into
    the profile's experiment.
    """
    package = compile_pipeline(name, profile, dist_dir)
    client = connect(host)
    with api_call(host, f"starting a run of stainworth-{name}-{profile.name}"):
        submission = submit_version(client, name, profile, package)
        run = client.run_pipeline(
            experiment_id=submission.experiment_id,
            job_name=f"{name}-{profile.name}-{submission.stamp}",
            pipeline_id=submission.pipeline_id,
            version_id=submission.version_id,
        )
    return ClusterRun(run_id=run.run_id, url=run_url(host, run.run_id), package=package)


def upload_version(client, package: Path, pipeline_name: str, version_name: str) -> tuple[str, str]:  # noqa: ANN001
    """Upload ``package`` as a new pipeline, or as a new version of the existing one."""
    pipeline_id = client.get_pipeline_id(pipeline_name)
    if pipeline_id is None:
        pipeline = client.upload_pipeline(str(package), pipeline_name=pipeline_name,
                                          description=f"stainworth pipeline {pipeline_name}")
        pipeline_id = pipeline.pipeline_id
        versions = client.list_pipeline_versions(pipeline_id=pipeline_id).pipeline_versions or []
        if not versions:
            raise PipelineError(f"pipeline {pipeline_name}: uploaded but the server lists no version")
        return pipeline_id, versions[0].pipeline_version_id
    version = client.upload_pipeline_version(str(package), pipeline_version_name=version_name,
                                             pipeline_id=pipeline_id)
    return pipeline_id, version.pipeline_version_id
