"""Command line: ``stainworth submit | compile | profile | bench | stain-mosaic``.

Every user error ends with one line ``stainworth: error: ...`` and exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import yaml

from stainworth.errors import StainworthError

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

    show = commands.add_parser("profile", help="print a resolved profile as YAML")
    show.add_argument("name", nargs="?", default=LOCAL_DEFAULT_PROFILE)
    show.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")

    bench = commands.add_parser("bench", help="measure speed and memory; print a table")
    bench.add_argument("--quick", action="store_true", help="small sizes (for a quick look)")

    stain = commands.add_parser("stain-mosaic", help="virtually stain a whole label-free mosaic with a trained stainer")
    stain.add_argument("stainer", help="stainer folder (the 'stainer' folder of a train_stainer output)")
    stain.add_argument("input", help="label-free mosaic: .zarr array, .tif/.tiff (read lazily) or .png")
    stain.add_argument("output", help="output zarr array (float32, fluorescence scale); must not exist")
    stain.add_argument("--tile", type=int, default=512, help="tile side, px (default 512)")
    stain.add_argument("--overlap", type=int, default=64, help="overlap of neighbouring tiles, px (default 64)")
    stain.add_argument("--batch", type=int, default=4, help="tiles per forward pass (default 4)")
    return parser


def _profile_options(parser: argparse.ArgumentParser, *, default: str | None) -> None:
    parser.add_argument("--profile", default=default,
                        help="smoke, mini, paper or a YAML file (local default: mini; cluster: paper)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a profile field, e.g. --set simulate.seed=3 (repeatable)")


def _submit(args: argparse.Namespace) -> int:
    from stainworth.contracts.report import HTML_FILE
    from stainworth.pipelines import build_pipeline
    from stainworth.pipelines.sweeps import REPORT_OUTPUT
    from stainworth.profiles import load_profile

    name = args.profile or (CLUSTER_DEFAULT_PROFILE if args.host else LOCAL_DEFAULT_PROFILE)
    profile = load_profile(name, args.overrides)
    build_pipeline(args.pipeline, profile)  # unknown names fail here, before anything runs
    if args.host:
        from stainworth.runner.cluster import run_cluster

        run = run_cluster(args.pipeline, profile, host=args.host)
        print(f"run started on Kubeflow: {run.url}")
        return 0
    from stainworth.runner.local import run_local

    result = run_local(args.pipeline, profile, runs_dir=args.runs_dir, verbose=args.verbose)
    outputs = ", ".join(f"{key}: {value}" for key, value in result.outputs.items())
    print(f"done in {result.seconds:.0f}s; run folder: {result.run_dir}; store: {result.store_uri}"
          + (f"; outputs: {outputs}" if outputs else ""))
    if REPORT_OUTPUT in result.outputs:
        print(f"report: {Path(result.outputs[REPORT_OUTPUT]) / HTML_FILE}")
    return 0


def _compile(args: argparse.Namespace) -> int:
    from stainworth.pipelines import PIPELINES
    from stainworth.profiles import load_profile
    from stainworth.runner.compile import compile_pipeline

    profile = load_profile(args.profile, args.overrides)
    for name in args.pipelines or sorted(PIPELINES):
        print(f"compiled {name} ({profile.name}): {compile_pipeline(name, profile, args.out)}")
    return 0


def _show_profile(args: argparse.Namespace) -> int:
    from stainworth.profiles import load_profile

    profile = load_profile(args.name, args.overrides)
    print(yaml.safe_dump(profile.model_dump(mode="json"), sort_keys=False), end="")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from stainworth.bench import run_benchmarks

    run_benchmarks(quick=args.quick)
    return 0


def _stain_mosaic(args: argparse.Namespace) -> int:
    from stainworth.progress import Progress
    from stainworth.stainers.whole import stain_mosaic_file

    progress = Progress("stain-mosaic", 1)
    written = stain_mosaic_file(args.stainer, args.input, args.output, tile=args.tile, overlap=args.overlap,
                                batch=args.batch, progress=progress.throttled_note)
    progress.step(str(written))
    return 0


COMMANDS = {"submit": _submit, "compile": _compile, "profile": _show_profile, "bench": _bench,
            "stain-mosaic": _stain_mosaic}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``stainworth`` command."""
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except StainworthError as error:
        print(f"stainworth: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("stainworth: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
