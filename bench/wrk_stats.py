"""Reads a `wrk --latency` report and prints "REQUESTS_PER_S P50_MS P99_MS".

Shared by the bench scripts so every scenario reads wrk the same way.
Usage: python3 bench/wrk_stats.py WRK_OUTPUT_FILE
"""
import re
import sys

text = open(sys.argv[1]).read()
unit = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def percentile(p):
    value, u = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", text).groups()
    return float(value) * unit[u]


rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
print(rate, percentile(50), percentile(99))
