"""Load generators and raw baselines, each run as its own process by `bench.procs.run_generator`.

Each module is `python -m bench.gen.<name> '<json config>'` and prints one JSON line: its result.
"""
