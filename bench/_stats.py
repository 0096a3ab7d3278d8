"""What the benchmarks compute from their timings."""


def percentile_ms(seconds: list[float], q: float) -> float:
    """The q-th quantile (0 ≤ q ≤ 1) of timings in seconds, in milliseconds (nearest rank)."""
    ordered = sorted(seconds)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000
