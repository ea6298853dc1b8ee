"""Benchmark adapters: one function per benchmark, keyword parameters in, a dict of figures out.
`seconds` is always the timed part only (inputs are prepared before the clock starts)."""
