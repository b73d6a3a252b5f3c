"""Reproducible benchmarks (not timed tests): each prints ratios against a baseline measured in
the same run."""
