"""What runs inside a pipeline's tasks: the stage entry point, cluster task settings, KFP artifacts, threads."""
