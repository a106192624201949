"""Command line: ``stainworth submit | compile | schedule | watch | profile | bench | stain-mosaic | images``.

``stainworth reference-observers`` measures the phantom's reference-observer table (docs/phantom.md).
Every user error ends with one line ``stainworth: error: ...`` and exit code 2; a local run stopped
by Ctrl-C or SIGTERM ends every process of the run, says ``stainworth: stopped: ...`` and exits 130 or 143.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import yaml

from stainworth.errors import run_command

LOCAL_DEFAULT_PROFILE = "mini"
CLUSTER_DEFAULT_PROFILE = "paper"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stainworth", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    submit = commands.add_parser("submit", help="run a pipeline locally, or on Kubeflow when KFP_HOST is set")
    submit.add_argument("pipeline")
    _profile_options(submit, default=None)
    submit.add_argument("--runs-dir", default="runs", help="local runs folder (default: runs)")
    submit.add_argument("--host", default=os.environ.get("KFP_HOST") or None,
                        help="Kubeflow Pipelines API (default: $KFP_HOST; unset: run locally)")
    submit.add_argument("--verbose", action="store_true",
                        help="local runs: print everything kfp.local prints (default: task progress; all of it "
                        "goes to run.log)")

    compile_ = commands.add_parser("compile", help="compile pipelines to dist/pipelines/<name>.yaml")
    compile_.add_argument("pipelines", nargs="*", help="names (default: all)")
    _profile_options(compile_, default=CLUSTER_DEFAULT_PROFILE)
    compile_.add_argument("--out", default="dist/pipelines")

    schedule = commands.add_parser("schedule", help="create a Kubeflow recurring run of a pipeline (needs KFP_HOST)")
    schedule.add_argument("pipeline")
    schedule.add_argument("--cron", required=True,
                          help="KFP cron, six fields with seconds first, e.g. '0 0 2 * * *' (daily at 02:00)")
    _profile_options(schedule, default=CLUSTER_DEFAULT_PROFILE)
    schedule.add_argument("--host", default=os.environ.get("KFP_HOST") or None,
                          help="Kubeflow Pipelines API (default: $KFP_HOST)")

    watch = commands.add_parser("watch", help="poll the store; run retrain locally when new acquisitions arrive")
    _profile_options(watch, default=LOCAL_DEFAULT_PROFILE)
    watch.add_argument("--interval", type=float, default=60.0, help="seconds between polls (default 60)")
    watch.add_argument("--polls", type=int, default=None, help="stop after this many polls (default: never)")
    watch.add_argument("--runs-dir", default="runs", help="local runs folder (default: runs)")

    show = commands.add_parser("profile", help="print a resolved profile as YAML")
    show.add_argument("name", nargs="?", default=LOCAL_DEFAULT_PROFILE)
    show.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")

    bench = commands.add_parser("bench", help="measure speed and memory; print a table")
    bench.add_argument("--quick", action="store_true", help="small sizes (for a quick look)")

    plan = commands.add_parser("plan", help="measure every training of the pipelines; GPU-hours, memory, store bytes")
    _profile_options(plan, default=CLUSTER_DEFAULT_PROFILE)
    plan.add_argument("--pipelines", nargs="+", default=None, metavar="NAME",
                      help="pipelines to plan (default: every one that trains networks)")
    plan.add_argument("--share", type=float, default=None,
                      help="share of each GPU's dense bf16 peak that training achieves (default 0.3)")
    plan.add_argument("--gpus", type=int, default=8, help="GPUs the wall time is given for (default 8)")
    plan.add_argument("--out", default=None, help="output folder (default runs/plan-<profile>)")

    check = commands.add_parser("gpu-check", help="on one CUDA GPU: bf16 peak, every paper unit's training "
                                "FLOP/s and memory, tiled staining throughput (refuses without CUDA)")
    _profile_options(check, default=CLUSTER_DEFAULT_PROFILE)
    check.add_argument("--steps", type=int, default=5, help="timed training steps per network (default 5)")
    check.add_argument("--out", default="runs/gpu-check.json", help="JSON file of the table")

    stain = commands.add_parser("stain-mosaic", help="virtually stain a whole label-free mosaic with a trained stainer")
    stain.add_argument("stainer", help="stainer folder (the 'stainer' folder of a train_stainer output)")
    stain.add_argument("input", help="label-free mosaic: .zarr array, .tif/.tiff (read lazily) or .png")
    stain.add_argument("output", help="output zarr array (float32, fluorescence scale); must not exist")
    stain.add_argument("--tile", type=int, default=512, help="tile side, px (default 512)")
    stain.add_argument("--overlap", type=int, default=64, help="overlap of neighbouring tiles, px (default 64)")
    stain.add_argument("--batch", type=int, default=4, help="tiles per forward pass (default 4)")

    reference = commands.add_parser(
        "reference-observers", help="measure the phantom's reference-observer table (features, CHO, ResNet18, Dice)")
    reference.add_argument("--nuclei-per-class", type=int, default=None,
                           help="nuclei of each class per setting (default 2000; --quick: 150)")
    reference.add_argument("--replicates", type=int, default=None,
                           help="network trainings per modality and setting (default 3; --quick: 1)")
    reference.add_argument("--network-at", choices=("off", "all", "default"), default="off",
                           help="settings the network trains at: 'off' (default): the default and the level of each "
                           "axis at which its effect vanishes; 'all': every setting; 'default': the default only")
    reference.add_argument("--quick", action="store_true",
                           help="a quick look: two settings, 150 nuclei per class, one replicate capped at 3 epochs")
    reference.add_argument("--seed", type=int, default=0, help="seed of fields, draws and trainings (default 0)")
    reference.add_argument("--profile", default=LOCAL_DEFAULT_PROFILE,
                           help="profile whose tasks.classification.training trains the network (default: mini)")
    reference.add_argument("--out", default="runs/reference_observers",
                           help="output folder; finished network trainings are kept in its trainings/ subfolder, "
                           "so a re-run with the same options resumes (delete it to train again)")
    return parser


def _profile_options(parser: argparse.ArgumentParser, *, default: str | None) -> None:
    parser.add_argument("--profile", default=default,
                        help="smoke, mini, paper or a YAML file (local default: mini; cluster: paper)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a profile field, e.g. --set simulate.seed=3 (repeatable)")
    parser.add_argument("--overlay", default=os.environ.get("OVERLAY") or None, metavar="DIR",
                        help="kustomize overlay whose gpu-pool.env sets the cluster section (GPU pool label "
                        "and taint, MinIO endpoint, store, scratch claim); default: $OVERLAY")


def _load_profile(args: argparse.Namespace, name: str):  # noqa: ANN202 - Profile is imported lazily
    """The named profile with ``--set`` overrides, then the overlay's cluster settings."""
    from stainworth.profiles import load_profile

    profile = load_profile(name, args.overrides)
    if not args.overlay:
        return profile
    from stainworth.contracts.base import validate_model
    from stainworth.contracts.cluster import ClusterConfig
    from stainworth.deploy.overlay import cluster_settings

    settings = profile.cluster.model_dump(mode="json") | cluster_settings(args.overlay)
    return profile.model_copy(update={"cluster": validate_model(ClusterConfig, settings,
                                                                where=f"overlay {args.overlay}")})


def _submit(args: argparse.Namespace) -> int:
    from stainworth.contracts.report import HTML_FILE
    from stainworth.pipelines import build_pipeline
    from stainworth.pipelines.sweeps import REPORT_OUTPUT

    profile = _load_profile(args, args.profile or (CLUSTER_DEFAULT_PROFILE if args.host else LOCAL_DEFAULT_PROFILE))
    build_pipeline(args.pipeline, profile)  # unknown names fail here, before anything runs
    if args.host:
        from stainworth.launch.cluster import run_cluster

        run = run_cluster(args.pipeline, profile, host=args.host)
        print(f"run started on Kubeflow: {run.url}")
        return 0
    from stainworth.launch.local import run_local

    result = run_local(args.pipeline, profile, runs_dir=args.runs_dir, verbose=args.verbose)
    outputs = ", ".join(f"{key}: {value}" for key, value in result.outputs.items())
    print(f"done in {result.seconds:.0f}s; run folder: {result.run_dir}; store: {result.store_uri}"
          + (f"; outputs: {outputs}" if outputs else ""))
    if REPORT_OUTPUT in result.outputs:
        print(f"report: {Path(result.outputs[REPORT_OUTPUT]) / HTML_FILE}")
    return 0


def _compile(args: argparse.Namespace) -> int:
    from stainworth.launch.compile import compile_pipeline
    from stainworth.pipelines import PIPELINES

    profile = _load_profile(args, args.profile)
    for name in args.pipelines or sorted(PIPELINES):
        print(f"compiled {name} ({profile.name}): {compile_pipeline(name, profile, args.out)}")
    return 0


def _schedule(args: argparse.Namespace) -> int:
    from stainworth.errors import ConfigError
    from stainworth.launch.schedule import check_cron, schedule_cluster
    from stainworth.pipelines import build_pipeline

    check_cron(args.cron)
    if not args.host:
        raise ConfigError("schedule: KFP_HOST is not set; a recurring run needs a Kubeflow Pipelines API "
                          "(on this machine, use: make watch)")
    profile = _load_profile(args, args.profile)
    build_pipeline(args.pipeline, profile)
    made = schedule_cluster(args.pipeline, profile, host=args.host, cron=args.cron)
    print(f"recurring run '{made.name}' ({made.cron}) created on Kubeflow: {args.host.rstrip('/')}"
          f"/#/recurringrun/details/{made.recurring_run_id}")
    return 0


def _watch(args: argparse.Namespace) -> int:
    from stainworth.launch.local import local_store_uri
    from stainworth.launch.watch import watch

    profile = _load_profile(args, args.profile)
    store_uri = local_store_uri(args.runs_dir)
    print(f"watching {store_uri}/{profile.retrain.acquisitions_prefix} every {args.interval:g}s "
          f"(profile {profile.name}; Ctrl-C stops)", flush=True)
    summary = watch(profile, store_uri, interval_s=args.interval, max_polls=args.polls, runs_dir=args.runs_dir,
                    echo=lambda line: print(line, flush=True))
    print(f"watch: {summary.polls} poll(s), {len(summary.runs)} retrain run(s), {len(summary.failures)} failed")
    if summary.never_reached is not None:
        raise summary.never_reached  # every poll failed: the store's error, exit code 2
    return 1 if summary.failures else 0


def _show_profile(args: argparse.Namespace) -> int:
    from stainworth.profiles import load_profile

    profile = load_profile(args.name, args.overrides)
    print(yaml.safe_dump(profile.model_dump(mode="json"), sort_keys=False), end="")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from stainworth.bench import run_benchmarks

    run_benchmarks(quick=args.quick)
    return 0


def _plan(args: argparse.Namespace) -> int:
    from stainworth.plan.costs import DEFAULT_SHARE
    from stainworth.plan.report import make_plan, write_plan
    from stainworth.plan.units import PLANNED_PIPELINES

    profile = _load_profile(args, args.profile)
    plan = make_plan(profile, args.pipelines or PLANNED_PIPELINES,
                     share=DEFAULT_SHARE if args.share is None else args.share, gpus=args.gpus,
                     progress=lambda line: print(line, flush=True))
    files = write_plan(plan, args.out or f"runs/plan-{profile.name}")
    print(files[2].read_text())
    print(f"plan: done in {plan.seconds:.0f}s; " + "; ".join(str(path) for path in files))
    return 0


def _gpu_check(args: argparse.Namespace) -> int:
    from stainworth.plan.gpu_check import format_check, gpu_check, write_check

    profile = _load_profile(args, args.profile)
    result = gpu_check(profile, steps=args.steps, progress=lambda line: print(line, flush=True))
    print(format_check(result))
    print(f"gpu-check: done in {result['seconds']:.0f}s; {write_check(result, args.out)}")
    return 0


def _stain_mosaic(args: argparse.Namespace) -> int:
    from stainworth.progress import Progress
    from stainworth.stainers.whole import stain_mosaic_file

    progress = Progress("stain-mosaic", 1)
    written = stain_mosaic_file(args.stainer, args.input, args.output, tile=args.tile, overlap=args.overlap,
                                batch=args.batch, progress=progress.throttled_note)
    progress.step(str(written))
    return 0


def _reference_observers(args: argparse.Namespace) -> int:
    from stainworth.analysis.reference import check_options, reference_observer_table
    from stainworth.analysis.reference_report import TRAININGS_FOLDER, output_folder, write_reference_table
    from stainworth.analysis.reference_settings import axis_settings, select_settings
    from stainworth.contracts.phantom import PhantomConfig
    from stainworth.profiles import load_profile

    nuclei = args.nuclei_per_class if args.nuclei_per_class is not None else 150 if args.quick else 2000
    replicates = args.replicates if args.replicates is not None else 1 if args.quick else 3
    check_options(nuclei_per_class=nuclei, replicates=replicates, seed=args.seed)
    training = load_profile(args.profile).tasks.classification.training
    out = output_folder(args.out)
    settings = axis_settings(PhantomConfig())
    if args.quick:
        settings = select_settings(settings, ["default", "marker_only:off"])
    network = [s.name for s in settings
               if args.network_at == "all" or (s.is_off if args.network_at == "off" else s.name == "default")]
    table = reference_observer_table(
        PhantomConfig(), training, settings, network_settings=network,
        nuclei_per_class=nuclei, replicates=replicates, seed=args.seed, max_epochs=3 if args.quick else None,
        cache=out / TRAININGS_FOLDER)
    csv_path, md_path = write_reference_table(table, out)
    print(f"reference-observers: done in {table.seconds:.0f}s; {csv_path}; {md_path}")
    return 0


COMMANDS = {"submit": _submit, "compile": _compile, "schedule": _schedule, "watch": _watch,
            "profile": _show_profile, "bench": _bench, "plan": _plan, "gpu-check": _gpu_check,
            "stain-mosaic": _stain_mosaic, "reference-observers": _reference_observers}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``stainworth`` command."""
    args = _parser().parse_args(argv)
    return run_command(lambda: COMMANDS[args.command](args))


if __name__ == "__main__":
    sys.exit(main())
