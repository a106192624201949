"""The environment every stage process runs with: on a cluster, in a local run and in the plan's probes."""

TASK_ENVIRONMENT = {"MALLOC_ARENA_MAX": "2"}
"""glibc gives a process's threads up to eight malloc arenas per core, and each arena keeps the pages
it freed. zarr decodes chunks in a thread pool, so a stage that reads full-width bands of a large
field kept far more resident memory than it used (the extract stage on a 3,790 x 18,542 px field:
about 670 MB resident for about 400 MB of live allocations). Two arenas bound that; the same
setting took the stitch + register peak from 358 to 275 MB (docs/stitch_register.md)."""
