// The JavaScript client of the private credential check (crates/api/src/web/credentials.js)
// against the shared vectors: logins and buckets (crates/credentials/tests/logins.json, from
// Python), the case-folding table it carries (casefold.json), RFC 9497 A.1.1 through the
// vendored @noble/curves, the protocol's entries as the Rust crate computes them
// (entries.json) and a blind → evaluate → finalise round trip. Prints "N passed, 0 failed".

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ristretto255_oprf } from '../../crates/api/src/web/vendor/noble-oprf.js';
import { FOLD } from '../../crates/api/src/web/casefold.js';
import * as c from '../../crates/api/src/web/credentials.js';

const root = (p) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const json = (p) => JSON.parse(readFileSync(root(p), 'utf8'));
const hex = (b) => Buffer.from(b).toString('hex');
const unhex = (s) => Uint8Array.from(Buffer.from(s, 'hex'));
let passed = 0;
let failed = 0;
function check(what, got, want) {
  if (got === want) {
    passed += 1;
  } else {
    failed += 1;
    console.log(`FAIL ${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
}

for (const { raw, login, bucket } of json('crates/credentials/tests/logins.json').cases) {
  let got = null;
  try {
    got = c.normalizeLogin(raw);
  } catch {
    got = null;
  }
  check(`login of ${JSON.stringify(raw)}`, got, login);
  if (login !== null) {
    check(`bucket of ${login}`, c.bucketOf(login).toString(16).toUpperCase().padStart(5, '0'), bucket);
  }
}

const table = json('crates/credentials/tests/casefold.json');
const want = { ...table.fold, ...table.newer };
check('fold table size', FOLD.size, Object.keys(want).length);
for (const [cp, folded] of Object.entries(want)) {
  check(`fold of U+${cp}`, FOLD.get(String.fromCodePoint(parseInt(cp, 16))), folded);
}

// RFC 9497 A.1.1, OPRF(ristretto255, SHA-512): BlindEvaluate and Finalize with the RFC's blind.
const oprf = ristretto255_oprf.oprf;
const skSm = unhex('5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b0e');
const blindScalar = unhex('64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706');
const vectors = [
  ['00', '609a0ae68c15a3cf6903766461307e5c8bb2f95e7e6550e1ffa2dc99e412803c',
    '7ec6578ae5120958eb2db1745758ff379e77cb64fe77b0b2d8cc917ea0869c7e',
    '527759c3d9366f277d8c6020418d96bb393ba2afb20ff90df23fb7708264e2f3ab9135e3bd69955851de4b1f9fe8a0973396719b7912ba9ee8aa7d0b5e24bcf6'],
  ['5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a', 'da27ef466870f5f15296299850aa088629945a17d1f5b7f5ff043f76b3c06418',
    'b4cbf5a4f1eeda5a63ce7b77c7d23f461db3fcab0dd28e4e17cecb5c90d02c25',
    'f4a74c9c592497375e796aa837e907b1a045d34306a749db9f34221f7e750cb4f2a6413a6bf6fa5e19ba6348eb673934a722a7ede2e7621306d18951e7cf2c73'],
];
for (const [input, blinded, evaluated, output] of vectors) {
  check(`RFC 9497 BlindEvaluate(${input})`, hex(oprf.blindEvaluate(skSm, unhex(blinded))), evaluated);
  check(`RFC 9497 Finalize(${input})`, hex(c.finalize(unhex(input), blindScalar, unhex(evaluated))), output);
}

// The Rust crate's protocol, end to end (its test asserts the same file).
const entries = json('crates/credentials/tests/entries.json');
const key = unhex(entries.skSm);
for (const e of entries.cases) {
  const login = c.normalizeLogin(e.raw);
  check(`entry login ${e.raw}`, login, e.login);
  const input = c.oprfInput(login, e.password);
  check(`entry input ${login}`, hex(input), e.input);
  // A client's blinded query, evaluated under the key, finalises to the server's output.
  const { blind, blinded } = c.blind(input);
  const output = c.finalize(input, blind, oprf.blindEvaluate(key, blinded));
  check(`entry output ${login}`, hex(output), e.output);
  check(`entry exact tag ${login}`, c.tag(output, 'exact'), e.exact);
  check(`entry similar tag ${login}`, c.tag(output, 'similar'), e.similar);
  check(`entry split bucket ${login}`, c.bucketOf(login, 32).toString(16).padStart(8, '0'), e.prefix);
  check(`entry bucket ${login}`, c.bucketOf(login, 24), Number.parseInt(e.prefix.slice(0, 6), 16));
  const tags = c.tagsFromBytes(unhex(`${e.exact.replace(/^./, (d) => (d === '0' ? '1' : '0'))}${e.similar}`));
  check(`lookup similar ${login}`, c.lookup(tags, output), 'similar');
  check(`lookup none ${login}`, c.lookup(new Set(), output), null);
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
