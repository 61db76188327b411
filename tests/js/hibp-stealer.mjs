// Drives the real npm `hibp` client's stealer-log and paste calls against a local leakwatch
// server.
// Usage: node hibp-stealer.mjs BASE_URL CASES_JSON
// CASES_JSON: {"api_key": k,
//              "by_email": [[address, [website, ...] or null], ...],
//              "by_website": [[website, [address, ...] or null], ...],
//              "by_email_domain": [[domain, {alias: [website, ...]} or null], ...],
//              "paste_account": [[address, [{Source, Id, Title, Date, EmailCount}] or null], ...]}
// (each list optional)
// Expected values come from the test, computed from the generator's record of the logs, not
// from leakwatch; null is "nothing found" (404) to the client.
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import {
  pasteAccount,
  stealerLogsByEmail,
  stealerLogsByEmailDomain,
  stealerLogsByWebsiteDomain,
} from 'hibp';

const [baseUrl, casesPath] = process.argv.slice(2);
const cases = JSON.parse(readFileSync(casesPath, 'utf8'));
const opts = { baseUrl: `${baseUrl}/api/v3`, apiKey: cases.api_key };
let passed = 0;
let failed = 0;
const check = (what, got, want) => {
  if (isDeepStrictEqual(got, want)) {
    passed += 1;
  } else {
    failed += 1;
    if (failed <= 20) console.error(`FAIL ${what}: got ${JSON.stringify(got)?.slice(0, 300)}`);
  }
};
// The endpoints sort their lists; the client hands them on as they came.
for (const [address, want] of cases.by_email ?? []) {
  check(`stealerLogsByEmail(${address})`, await stealerLogsByEmail(address, opts), want);
}
for (const [site, want] of cases.by_website ?? []) {
  check(`stealerLogsByWebsiteDomain(${site})`, await stealerLogsByWebsiteDomain(site, opts), want);
}
for (const [domain, want] of cases.by_email_domain ?? []) {
  check(`stealerLogsByEmailDomain(${domain})`, await stealerLogsByEmailDomain(domain, opts), want);
}
for (const [address, want] of cases.paste_account ?? []) {
  check(`pasteAccount(${address})`, await pasteAccount(address, opts), want);
}
console.log(`hibp-stealer: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
