"""Benchmarks: scripts that measure through `benchmarks.harness` and write JSON under `benchmarks/out/`."""
