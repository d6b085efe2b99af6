"""Latency regression checks that compare ratios, not absolute times."""
