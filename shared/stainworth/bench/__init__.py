"""``make bench``: speed measured side by side in one run, printed as a table.

Rows so far:

- phantom generation throughput (tile megapixels per second, all channels and ground truth) and
  the projected time of the ``mini`` profile's data against its one-minute goal;
- the local runner's overhead: the same ``simulate`` configuration run as a bare library call and
  through ``kfp.local`` (child process, executor, artifact bookkeeping), as a share of the run;
- stitch + register of phantom mosaics of about 4096² and 8192² px, each in a fresh process:
  wall time, peak memory (should not grow with the area), tile position error and registration
  error against the phantom's ground truth;
- stainworth's stitcher against ASHLAR on the same phantom tiles: position error and time;
- stainer training throughput against a bare PyTorch loop on the same model and data, SSIM with
  and without bf16 autocast, and whole-mosaic staining (overhead of the tiling against bare
  forward passes, peak memory at 4096² and 16384²);
- task-network training throughput against a bare PyTorch loop for every network of the
  segmentation and classification ladders (same network, batch size and synthetic data), and the
  share of stainworth's training time spent waiting for data;
- the ``prepare`` stages run as library calls on a profile's phantom data (``mini`` by default):
  seconds per stage, and label and extract throughput in nuclei per second;
- the achieved training FLOP/s of every network of the profile's ladders (its image size, batch,
  precision and memory format) against the dense matmul peak measured in the same run;
- the orchestration share of the newest local ``mini`` ``cls_capacity`` run under ``runs/``:
  task-process time spent outside the stages' own work (process start, imports).
"""

from __future__ import annotations

from stainworth.bench.table import Row, format_table, timed

__all__ = ["Row", "format_table", "run_benchmarks", "timed"]


def run_benchmarks(*, quick: bool = False) -> list[Row]:
    """Run every benchmark and print the table; ``quick`` uses the smoke profile only."""
    from stainworth.bench.mosaic import FIELD_SHAPES, bench_prepare_field
    from stainworth.bench.orchestration import bench_orchestration, bench_training_efficiency
    from stainworth.bench.phantom import bench_phantom
    from stainworth.bench.prepare import bench_prepare
    from stainworth.bench.runner import bench_runner_overhead
    from stainworth.bench.stainers import bench_bf16, bench_training
    from stainworth.bench.stitchers import bench_stitchers
    from stainworth.bench.tasks import bench_task_training, task_bench_settings
    from stainworth.bench.tiling import bench_stain_mosaic

    profiles = ["smoke"] if quick else ["smoke", "mini"]
    rows: list[Row] = []
    for name in profiles:
        print(f"bench: phantom ({name})", flush=True)
        rows += bench_phantom(name)
    for name in profiles:
        print(f"bench: local runner overhead ({name})", flush=True)
        rows += bench_runner_overhead(name)
    print("bench: prepare stages", flush=True)
    rows += bench_prepare(profiles[-1])
    print("bench: stitch → register → label → extract of one field, growing", flush=True)
    rows += bench_prepare_field(((2048, 2048), (4096, 2048)) if quick else FIELD_SHAPES)
    print("bench: stainworth's stitcher and ASHLAR on the same tiles", flush=True)
    rows += bench_stitchers(2048 if quick else 4096)
    for architecture in ("efficientunet", "pix2pixhd"):
        print(f"bench: {architecture} training loop vs a bare PyTorch loop", flush=True)
        rows += bench_training(architecture, size=64 if quick else 128)
    print("bench: bf16 autocast", flush=True)
    rows += bench_bf16(steps=10 if quick else 60)
    print("bench: whole-mosaic staining", flush=True)
    rows += bench_stain_mosaic((1024, 2048) if quick else (4096, 16384))
    for name, settings in task_bench_settings(quick=quick).items():
        print(f"bench: {name} training loop vs a bare PyTorch loop", flush=True)
        rows += bench_task_training(name, **settings)
    print("bench: training FLOP/s against the matmul peak", flush=True)
    rows += bench_training_efficiency(profiles[-1])
    rows += bench_orchestration(profile=profiles[-1])
    print(format_table(rows), flush=True)
    return rows
