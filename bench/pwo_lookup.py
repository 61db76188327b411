"""Password lookups with PyPI's pwnedpasswords-offline (binary search over a Pwned
Passwords file ordered by hash, memory-mapped; no Bloom filter), timed like leakwatch's
check_latency example: first pass over the list apart, then N timed lookups.

Usage: python3 bench/pwo_lookup.py SORTED_FILE PASSWORDS [N]"""
import sys
import time

from pwnedpasswords_offline import PwnedPasswordsOfflineChecker

path, pw_path = sys.argv[1], sys.argv[2]
n = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
passwords = open(pw_path, encoding="utf-8").read().splitlines()
t = time.perf_counter()
checker = PwnedPasswordsOfflineChecker(path, bloom_file=None)
checker.open()
open_us = (time.perf_counter() - t) * 1e6
t = time.perf_counter()
found = sum(1 for pw in passwords if checker.lookup_raw_password(pw))
first_pass_us = (time.perf_counter() - t) * 1e6 / len(passwords)
each = []
t = time.perf_counter()
for i in range(n):
    one = time.perf_counter()
    checker.lookup_raw_password(passwords[i % len(passwords)])
    each.append(time.perf_counter() - one)
hot_us = (time.perf_counter() - t) * 1e6 / n
each.sort()
print(
    f"open_us={open_us:.1f} first_pass_us={first_pass_us:.3f} hot_us={hot_us:.3f} "
    f"hot_p50_us={each[n // 2] * 1e6:.3f} hot_p99_us={each[min(n - 1, int(n * 0.99))] * 1e6:.3f} "
    f"passwords={len(passwords)} found={found} lookups={n}"
)
