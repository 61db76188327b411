// Drives the real npm `hibp` client against a local leakwatch server.
// Usage: node hibp-compat.mjs BASE_URL CASES_JSON
// CASES_JSON: {"passwords": [[password, expectedCount], ...],
//              "ranges": [[prefix, {SUFFIX: count, ...}], ...],
//              "ntlm_ranges": [[prefix, {SUFFIX: count, ...}], ...],
//              "catalog": {"breaches": [...], "domain": d, "domain_breaches": [...],
//                          "name": n, "breach": {...}, "latest": {...}, "data_classes": [...]},
//              "subscription": {"api_key": k, "expected": {...}},
//              "accounts": [{"account": a, "names": [...], "verified_full": [...],
//                            "fictobank_full": [...]}, ...]}
// Expected values come from the test, computed from the input file, not from leakwatch.
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import {
  breach, breachedAccount, breaches, dataClasses, latestBreach, pwnedPassword, pwnedPasswordRange,
  subscriptionStatus,
} from 'hibp';

const [baseUrl, casesPath] = process.argv.slice(2);
const cases = JSON.parse(readFileSync(casesPath, 'utf8'));
let passed = 0;
let failed = 0;
const fail = (msg) => {
  failed += 1;
  if (failed <= 20) console.error(`FAIL ${msg}`);
};
const sameRange = (got, want) => {
  const g = Object.keys(got).sort();
  const w = Object.keys(want).sort();
  return g.length === w.length && w.every((k, i) => g[i] === k && got[k] === want[k]);
};

for (const [password, want] of cases.passwords) {
  const got = await pwnedPassword(password, { baseUrl });
  if (got === want) passed += 1; else fail(`pwnedPassword(${JSON.stringify(password)}) = ${got}, want ${want}`);
}
for (const [prefix, want] of cases.ranges) {
  const got = await pwnedPasswordRange(prefix, { baseUrl });
  if (sameRange(got, want)) passed += 1; else fail(`pwnedPasswordRange(${prefix}) differs`);
  // With padding: every real entry present, the rest count 0, 800 to 1000 in all.
  const padded = await pwnedPasswordRange(prefix, { baseUrl, addPadding: true });
  const real = Object.fromEntries(Object.entries(padded).filter(([, c]) => c > 0));
  const n = Object.keys(padded).length;
  if (sameRange(real, want) && n >= Math.max(800, Object.keys(want).length) && n <= Math.max(1000, Object.keys(want).length)) passed += 1;
  else fail(`padded pwnedPasswordRange(${prefix}): ${n} entries`);
}
for (const [prefix, want] of cases.ntlm_ranges) {
  const got = await pwnedPasswordRange(prefix, { baseUrl, mode: 'ntlm' });
  if (sameRange(got, want)) passed += 1; else fail(`pwnedPasswordRange(${prefix}, ntlm) differs`);
}
try {
  await pwnedPasswordRange('XYZ', { baseUrl });
  fail('a bad prefix did not throw');
} catch (e) {
  if (String(e.message).includes('hash prefix')) passed += 1; else fail(`bad prefix error: ${e.message}`);
}
if (cases.catalog) {
  const c = cases.catalog;
  const v3 = { baseUrl: `${baseUrl}/api/v3` };
  const check = (what, got, want) => {
    if (isDeepStrictEqual(got, want)) passed += 1; else fail(`${what}: got ${JSON.stringify(got)?.slice(0, 300)}`);
  };
  check('breaches()', await breaches(v3), c.breaches);
  check(`breaches({domain: ${c.domain}})`, await breaches({ ...v3, domain: c.domain }), c.domain_breaches);
  check(`breach(${c.name})`, await breach(c.name, v3), c.breach);
  check('breach(unknown)', await breach('NoSuchBreach', v3), null);
  check('dataClasses()', await dataClasses(v3), c.data_classes);
  check('latestBreach()', await latestBreach(v3), c.latest);
}
if (cases.subscription) {
  const v3 = { baseUrl: `${baseUrl}/api/v3` };
  const got = await subscriptionStatus({ ...v3, apiKey: cases.subscription.api_key });
  if (isDeepStrictEqual(got, cases.subscription.expected)) passed += 1; else fail(`subscriptionStatus(): ${JSON.stringify(got)}`);
  try {
    await subscriptionStatus({ ...v3, apiKey: '0123456789abcdef0123456789abcdef' });
    fail('a wrong key was accepted');
  } catch (e) {
    if (String(e.message).includes('hibp-api-key')) passed += 1; else fail(`wrong key: ${e.message}`);
  }
}
if (cases.accounts) {
  // 404 (not pwned) is null to the client; every other answer is compared in full.
  const opts = { baseUrl: `${baseUrl}/api/v3`, apiKey: cases.subscription.api_key };
  const orNull = (list) => (list.length ? list : null);
  const check = (what, got, want) => {
    if (isDeepStrictEqual(got, want)) passed += 1; else fail(`${what}: got ${JSON.stringify(got)?.slice(0, 300)}`);
  };
  for (const c of cases.accounts) {
    const a = c.account;
    check(`breachedAccount(${a})`, await breachedAccount(a, opts), orNull(c.names.map((n) => ({ Name: n }))));
    check(
      `breachedAccount(${a}, {includeUnverified: false, truncate: false})`,
      await breachedAccount(a, { ...opts, includeUnverified: false, truncate: false }),
      orNull(c.verified_full),
    );
    check(
      `breachedAccount(${a}, {domain: fictobank.example, truncate: false})`,
      await breachedAccount(a, { ...opts, domain: 'fictobank.example', truncate: false }),
      orNull(c.fictobank_full),
    );
  }
}
console.log(`hibp-compat: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
