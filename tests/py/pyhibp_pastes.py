"""Drives the real PyPI `pyhibp` client's paste call (`get_pastes`) against a local leakwatch
server.

Usage: python3 pyhibp_pastes.py BASE_URL CASES_JSON
CASES_JSON: {"api_key": k, "paste_account": [[address, [paste, ...] or null], ...]}; every
expected answer was computed by the Rust test from the pastes it wrote, not from leakwatch.
pyhibp answers [] where HIBP says 404 (null in the cases).
"""
import json
import sys

import pyhibp

base, cases_path = sys.argv[1], sys.argv[2]
with open(cases_path, encoding="utf-8") as f:
    cases = json.load(f)

pyhibp.HIBP_API_BASE_URI = base + "/api/v3/"
pyhibp.set_user_agent(ua="leakwatch-compat-tests")
pyhibp.set_api_key(key=cases["api_key"])

passed = failed = 0
for address, want in cases["paste_account"]:
    got = pyhibp.get_pastes(email_address=address)
    if got == (want or []):
        passed += 1
    else:
        failed += 1
        if failed <= 20:
            print(f"FAIL get_pastes({address}): got {str(got)[:300]}", file=sys.stderr)

print(f"pyhibp-pastes: {passed} passed, {failed} failed")
sys.exit(0 if failed == 0 and passed > 0 else 1)
