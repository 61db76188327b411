"""Drives the real PyPI `pyhibp` client against a local leakwatch server.

Usage: python3 pyhibp_compat.py BASE_URL CASES_JSON  (the cases file of hibp-compat.mjs)
The client's base URI constants are patched to the local server; every expected value was
computed by the Rust test from the input files, not from leakwatch.
"""
import json
import sys

import pyhibp
from pyhibp import pwnedpasswords as pw

base, cases_path = sys.argv[1], sys.argv[2]
with open(cases_path, encoding="utf-8") as f:
    cases = json.load(f)

pyhibp.HIBP_API_BASE_URI = base + "/api/v3/"
pw.PWNED_PASSWORDS_API_BASE_URI = base + "/"
pyhibp.set_user_agent(ua="leakwatch-compat-tests")

passed = failed = 0


def check(what, got, want):
    global passed, failed
    if got == want:
        passed += 1
    else:
        failed += 1
        if failed <= 20:
            print(f"FAIL {what}: got {str(got)[:300]}", file=sys.stderr)


for i, (password, want) in enumerate(cases["passwords"]):
    check(f"is_password_breached({password!r})", pw.is_password_breached(password=password, add_padding=i % 2 == 0), want)

c = cases["catalog"]
check("get_all_breaches()", pyhibp.get_all_breaches(), c["breaches"])
check("get_all_breaches(domain)", pyhibp.get_all_breaches(domain=c["domain"]), c["domain_breaches"])
check("get_all_breaches(unknown domain)", pyhibp.get_all_breaches(domain="nobody.example"), [])
check("get_single_breach(name)", pyhibp.get_single_breach(breach_name=c["name"]), c["breach"])
check("get_single_breach(unknown)", pyhibp.get_single_breach(breach_name="NoSuchBreach"), {})
check("get_data_classes()", pyhibp.get_data_classes(), c["data_classes"])

# Accounts: 404 is [] to pyhibp. Its defaults are truncate_response=False and
# include_unverified=False, which the second call relies on.
pyhibp.set_api_key(key=cases["subscription"]["api_key"])
for case in cases["accounts"]:
    a = case["account"]
    check(f"get_account_breaches({a!r}, truncated)",
          pyhibp.get_account_breaches(account=a, truncate_response=True, include_unverified=True),
          [{"Name": n} for n in case["names"]])
    check(f"get_account_breaches({a!r})", pyhibp.get_account_breaches(account=a), case["verified_full"])

print(f"pyhibp-compat: {passed} passed, {failed} failed")
sys.exit(0 if failed == 0 and passed > 0 else 1)
