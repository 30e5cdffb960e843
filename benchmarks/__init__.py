"""Benchmarks (off by default; `make bench`). They print figures; they never assert on time."""
