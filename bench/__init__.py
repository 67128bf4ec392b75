"""Benchmarks of the sidecar against named baselines, measured side by side in one run.

`python -m bench` runs them all and writes `docs/benchmarks.md`, with the product's targets.
"""
