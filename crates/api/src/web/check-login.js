// The web page's "Check a login" form: the private credential check (docs/FORMAT.md,
// "Private credential check") in the browser. The login is normalised and bucketed here, the
// (login, password) input blinded here with @noble/curves' RFC 9497 OPRF (credentials.js),
// and only the bucket and the blinded element are sent; the server's evaluation is finalised
// here and looked up among the bucket's entries, so the server learns neither the login nor
// the password, nor the answer.

import {
  BUCKET_BITS, MAX_BUCKET_BITS, blind, bucketOf, finalize, lookup, normalizeLogin, oprfInput,
  tagsFromBytes,
} from './credentials.js';

const toBase64 = (bytes) => btoa(String.fromCharCode(...bytes));
const fromBase64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

/** Whether `rawLogin` with `password` was leaked: 'exact', 'similar' or null. Throws with
 * the server's reason when it refuses, or when the login is not one. */
export async function checkLogin(rawLogin, password) {
  const login = normalizeLogin(rawLogin);
  const input = oprfInput(login, password);
  let bits = BUCKET_BITS;
  // A split bucket names the bits it needs (they depend on the whole 20-bit bucket), so a
  // second ask is answered.
  for (let ask = 0; ask < 2; ask += 1) {
    const { blind: scalar, blinded } = blind(input);
    const response = await fetch('/api/v1/credentials/page-check', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ bucket: bucketOf(login, bits), bucketBits: bits, blinded: toBase64(blinded) }),
    });
    if (!response.ok) {
      const reason = (await response.text()).trim();
      throw new Error(`${response.status}: ${reason}`);
    }
    const answer = await response.json();
    if (!answer.evaluated) {
      if (!(answer.bucketBits > bits && answer.bucketBits <= MAX_BUCKET_BITS)) {
        throw new Error('the server asked for a bucket it cannot have');
      }
      bits = answer.bucketBits;
      continue;
    }
    const output = finalize(input, scalar, fromBase64(answer.evaluated));
    return lookup(tagsFromBytes(fromBase64(answer.tags)), output);
  }
  throw new Error('the bucket was split twice');
}

const $ = (id) => document.getElementById(id);

function say(out, text, tone) {
  out.className = tone ? `result ${tone}` : 'result';
  out.textContent = text;
}

async function onSubmit(event) {
  event.preventDefault();
  const login = $('login-input');
  const password = $('login-password-input');
  const out = $('login-result');
  if (!login.value.trim() || !password.value) {
    say(out, 'Enter a login (an e-mail address or a username) and its password.', 'bad');
    (login.value.trim() ? password : login).focus();
    return;
  }
  const pair = [login.value, password.value];
  password.value = '';
  say(out, 'Checking…');
  try {
    const found = await checkLogin(...pair);
    if (found === 'exact') {
      say(out, 'This login and this password were leaked together. Change the password now, everywhere you use it, and turn on two-step verification.', 'bad');
    } else if (found === 'similar') {
      say(out, 'A password very like this one was leaked with this login. Attackers try such variants first: choose a new, unrelated password.', 'bad');
    } else {
      say(out, 'Not found: neither this login with this password nor a close variant is in the leaks loaded here.', 'good');
    }
  } catch (e) {
    const text = String(e && e.message || e);
    if (text.startsWith('429')) {
      say(out, 'Too many checks from your address: try again later.', 'bad');
    } else if (text.startsWith('503')) {
      say(out, 'The login check is not available on this server.', 'bad');
    } else if (/address|username|login/.test(text)) {
      say(out, 'That is not an e-mail address or a username.', 'bad');
    } else {
      say(out, 'The check failed: the server could not be reached. Try again.', 'bad');
    }
  }
}

const form = $('login-form');
if (form) form.addEventListener('submit', onSubmit);
