// The private credential check's client in JavaScript (docs/FORMAT.md, "Private credential
// check", protocol version 1): the same login rule, bucket, OPRF input, entry tags and lookup
// as crates/credentials, over @noble/curves' RFC 9497 OPRF (vendor/noble-oprf.js), so that
// the browser sends only a bucket and a blinded element. tests/js/credentials.mjs holds it to
// the shared vectors and to the Rust implementation.

import { ristretto255_oprf, sha256 } from './vendor/noble-oprf.js';
import { FOLD } from './casefold.js';

const oprf = ristretto255_oprf.oprf;
const encoder = new TextEncoder();

/** Bits of a login's SHA-256 that name its bucket, unless the server asks for more. */
export const BUCKET_BITS = 20;
/** The most bits a server can ask for (a split bucket). */
export const MAX_BUCKET_BITS = 32;
/** Bytes of an entry's tag in an answer. */
export const TAG_BYTES = 12;

const LOCAL_SPECIALS = "!#$%&'*+/=?^_`{|}~-.";

/** Username rule: trimmed, no control characters, at most 256 bytes, Unicode case-folded. */
function normalizeUsername(raw) {
  const t = raw.trim();
  if (t === '') throw new Error('empty');
  if (/\p{Cc}/u.test(t)) throw new Error('control characters');
  if (encoder.encode(t).length > 256) throw new Error('longer than 256 bytes');
  let out = '';
  for (const c of t) out += FOLD.get(c) ?? c;
  return out;
}

/** The domain rule: UTS #46 to punycode (the URL parser's), two labels or more, a real TLD. */
function normalizeDomain(raw) {
  let domain = raw.trim();
  if (domain.endsWith('.')) domain = domain.slice(0, -1);
  if (domain === '' || /[\s/\\?#@:[\]%]/.test(domain)) throw new Error('not a domain');
  let ascii;
  try {
    ascii = new URL(`http://${domain}/`).hostname;
  } catch {
    throw new Error('not a domain');
  }
  const labels = ascii.split('.');
  const std3 = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
  if (labels.length < 2 || ascii.length > 253 || labels.some((l) => l.length > 63 || !std3.test(l))) {
    throw new Error('domain needs at least two labels of 1 to 63 bytes');
  }
  const tld = labels[labels.length - 1];
  if (tld.length < 2 || /^[0-9]+$/.test(tld)) throw new Error('top-level domain is not valid');
  return ascii;
}

/** The e-mail rule: trimmed, local part checked and lower-cased, domain by the domain rule. */
function normalizeEmail(raw) {
  const t = raw.trim();
  if (t === '') throw new Error('empty');
  const at = t.lastIndexOf('@');
  if (at < 0) throw new Error('no @');
  const local = t.slice(0, at);
  let domain = t.slice(at + 1);
  if (local === '') throw new Error('empty local part');
  if (encoder.encode(local).length > 64) throw new Error('local part longer than 64 bytes');
  for (const c of local) {
    const ok = /[\p{L}\p{N}]/u.test(c) || LOCAL_SPECIALS.includes(c)
      || (c.codePointAt(0) > 0x7f && !/[\s\p{Cc}]/u.test(c));
    if (!ok) throw new Error('local part has a character not allowed in an address');
  }
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) {
    throw new Error('misplaced dot in the local part');
  }
  if (domain.endsWith('.')) domain = domain.slice(0, -1);
  if (domain === '') throw new Error('empty domain');
  if (domain.startsWith('[')) throw new Error('address literals are not accepted');
  const address = `${local.toLowerCase()}@${normalizeDomain(domain)}`;
  if (encoder.encode(address).length > 254) throw new Error('address longer than 254 bytes');
  return address;
}

/** A login as the server's data spells it: an address by the e-mail rule, else a username. */
export function normalizeLogin(raw) {
  return raw.includes('@') ? normalizeEmail(raw) : normalizeUsername(raw);
}

/** The bucket of a normalised login: the first `bits` (1 to 32) bits of its SHA-256. */
export function bucketOf(login, bits = BUCKET_BITS) {
  if (!(bits >= 1 && bits <= MAX_BUCKET_BITS)) throw new Error(`bucket bits ${bits}`);
  const d = sha256(encoder.encode(login));
  const top = ((d[0] << 24) | (d[1] << 16) | (d[2] << 8) | d[3]) >>> 0;
  return bits === 32 ? top : Math.floor(top / 2 ** (32 - bits));
}

/** The bytes the OPRF is evaluated on: label, login length (u16 BE), login, password. */
export function oprfInput(login, password) {
  const label = encoder.encode('leakwatch credential v1');
  const l = encoder.encode(login);
  const p = encoder.encode(password);
  if (l.length === 0 || label.length + 2 + l.length + p.length > 0xffff) {
    throw new Error('login empty or input too long');
  }
  const out = new Uint8Array(label.length + 2 + l.length + p.length);
  out.set(label, 0);
  out[label.length] = l.length >> 8;
  out[label.length + 1] = l.length & 0xff;
  out.set(l, label.length + 2);
  out.set(p, label.length + 2 + l.length);
  return out;
}

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** An entry's tag for an OPRF output, 'exact' or 'similar': the first 12 bytes of
 * SHA-256(label ‖ output), as 24 lower-case hex digits. */
export function tag(output, kind) {
  const label = encoder.encode(`leakwatch credential entry v1 ${kind}`);
  const msg = new Uint8Array(label.length + output.length);
  msg.set(label, 0);
  msg.set(output, label.length);
  return hex(sha256(msg).subarray(0, TAG_BYTES));
}

/** The tags an answer carries (12 bytes each, concatenated) as a Set of hex strings. */
export function tagsFromBytes(bytes) {
  if (bytes.length % TAG_BYTES !== 0) throw new Error('the answer is not a whole number of tags');
  const tags = new Set();
  for (let i = 0; i < bytes.length; i += TAG_BYTES) tags.add(hex(bytes.subarray(i, i + TAG_BYTES)));
  return tags;
}

/** What a bucket's tags (a Set of hex strings) say of an output: 'exact', 'similar' or null. */
export function lookup(tags, output) {
  for (const kind of ['exact', 'similar']) {
    if (tags.has(tag(output, kind))) return kind;
  }
  return null;
}

/** RFC 9497 Blind with a fresh random scalar: { blind (kept), blinded (sent) }. */
export function blind(input) {
  return oprf.blind(input);
}

/** RFC 9497 Finalize: the OPRF output from the server's evaluated element. */
export function finalize(input, blindScalar, evaluated) {
  return oprf.finalize(input, blindScalar, evaluated);
}
