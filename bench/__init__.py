"""Benchmarks of the chain. `python -m bench` runs them all and writes BENCHMARKS.md + bench/results.json;
the bench_*.py scripts remain runnable one by one."""
