"""``make plan``: the trainings of a profile's pipelines, measured network by network and costed.

:mod:`~stainworth.plan.units` lists what each pipeline trains, :mod:`~stainworth.plan.probe`
measures a network (parameters, FLOPs, peak memory of a training step), :mod:`~stainworth.plan.costs`
turns that into compute, store bytes, GPU-hours and wall time, :mod:`~stainworth.plan.report`
writes the tables.
"""
