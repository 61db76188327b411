// leakwatch's page: private e-mail check, k-anonymity password check, the breach catalogue
// with its timeline, alert subscription, and hiding an address (opt-out). Plain JavaScript, no libraries, nothing loaded
// from elsewhere. The password is hashed here and only the first 5 hex digits of its SHA-1
// are sent (with Add-Padding); it is never stored or logged.
"use strict";

const $ = (id) => document.getElementById(id);

// ---- SHA-1 -------------------------------------------------------------------------------
// WebCrypto when the page is a secure context (https or localhost); otherwise a small
// implementation of FIPS 180-4, so the check also works on a plain-http intranet.
async function sha1Hex(text) {
  const bytes = new TextEncoder().encode(text);
  let digest;
  if (globalThis.crypto && crypto.subtle) {
    digest = new Uint8Array(await crypto.subtle.digest("SHA-1", bytes));
  } else {
    digest = sha1Fallback(bytes);
  }
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("").toUpperCase();
}

function sha1Fallback(bytes) {
  const len = bytes.length;
  const words = new Uint32Array((((len + 8) >> 6) + 1) * 16);
  for (let i = 0; i < len; i++) words[i >> 2] |= bytes[i] << (24 - (i % 4) * 8);
  words[len >> 2] |= 0x80 << (24 - (len % 4) * 8);
  words[words.length - 1] = len * 8;
  words[words.length - 2] = Math.floor(len / 0x20000000);
  let [a0, b0, c0, d0, e0] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0];
  const w = new Uint32Array(80);
  const rotl = (x, n) => (x << n) | (x >>> (32 - n));
  for (let i = 0; i < words.length; i += 16) {
    for (let t = 0; t < 80; t++) {
      w[t] = t < 16 ? words[i + t] : rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
    }
    let [a, b, c, d, e] = [a0, b0, c0, d0, e0];
    for (let t = 0; t < 80; t++) {
      const f = t < 20 ? (b & c) | (~b & d) : t < 40 ? b ^ c ^ d : t < 60 ? (b & c) | (b & d) | (c & d) : b ^ c ^ d;
      const k = t < 20 ? 0x5a827999 : t < 40 ? 0x6ed9eba1 : t < 60 ? 0x8f1bbcdc : 0xca62c1d6;
      const tmp = (rotl(a, 5) + f + e + k + w[t]) >>> 0;
      [e, d, c, b, a] = [d, c, rotl(b, 30) >>> 0, a, tmp];
    }
    a0 = (a0 + a) >>> 0; b0 = (b0 + b) >>> 0; c0 = (c0 + c) >>> 0;
    d0 = (d0 + d) >>> 0; e0 = (e0 + e) >>> 0;
  }
  const out = new Uint8Array(20);
  [a0, b0, c0, d0, e0].forEach((v, i) => {
    out[i * 4] = v >>> 24; out[i * 4 + 1] = (v >>> 16) & 255;
    out[i * 4 + 2] = (v >>> 8) & 255; out[i * 4 + 3] = v & 255;
  });
  return out;
}

// ---- helpers -----------------------------------------------------------------------------
function show(el, text, tone) {
  el.textContent = text;
  el.className = "result" + (tone ? " " + tone : "");
}

const number = new Intl.NumberFormat("en");

// What the server said, in words: its JSON message, or its one-line plain-text reason.
async function reason(response) {
  const text = await response.text();
  try {
    const json = JSON.parse(text);
    return json.message || text;
  } catch {
    return text;
  }
}

// Posts an address to a mail endpoint and says what happens next.
async function postAddress(form, input, out, url) {
  const email = input.value.trim();
  if (!email || !input.checkValidity()) {
    show(out, "Enter an e-mail address, such as name@example.org.", "bad");
    input.focus();
    return;
  }
  const button = form.querySelector("button");
  button.disabled = true;
  show(out, "Sending…");
  try {
    const r = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email }),
    });
    if (r.status === 202) {
      show(out, await reason(r), "good");
      form.reset();
    } else if (r.status === 429) {
      const wait = Number(r.headers.get("retry-after") || "60");
      show(out, `Too many requests for now: try again in ${Math.ceil(wait / 60)} minute(s).`, "bad");
    } else {
      show(out, await reason(r), "bad");
    }
  } catch {
    show(out, "The server could not be reached. Try again.", "bad");
  } finally {
    button.disabled = false;
  }
}

// ---- password check ----------------------------------------------------------------------
async function checkPassword(event) {
  event.preventDefault();
  const input = $("password-input");
  const out = $("password-result");
  const password = input.value;
  if (!password) {
    show(out, "Enter a password to check.", "bad");
    input.focus();
    return;
  }
  input.value = "";
  show(out, "Checking…");
  try {
    const hash = await sha1Hex(password);
    const prefix = hash.slice(0, 5);
    const suffix = hash.slice(5);
    const r = await fetch(`/range/${prefix}`, { headers: { "Add-Padding": "true" } });
    if (!r.ok) throw new Error(String(r.status));
    let count = 0;
    for (const line of (await r.text()).split("\r\n")) {
      const [s, c] = line.split(":");
      if (s === suffix) count = Number(c);
    }
    out.replaceChildren();
    const p = document.createElement("p");
    if (count > 0) {
      out.className = "result bad";
      p.textContent = `This password has been seen ${number.format(count)} time${count === 1 ? "" : "s"} in data breaches. Do not use it.`;
      const advice = document.createElement("ul");
      for (const text of [
        "Change it everywhere you use it, starting with e-mail and banking.",
        "Use a different password for every site: a password manager makes that easy.",
        "Turn on two-step verification where it is offered.",
      ]) {
        const li = document.createElement("li");
        li.textContent = text;
        advice.append(li);
      }
      out.append(p, advice);
    } else {
      out.className = "result good";
      p.textContent = "This password was not found in the breaches loaded here. That does not make it strong: use a long, unique one for every site.";
      out.append(p);
    }
  } catch {
    show(out, "The check failed: the server could not be reached. Try again.", "bad");
  }
}

// ---- breach catalogue and timeline -------------------------------------------------------
let breaches = [];

function renderBreaches() {
  const query = $("breach-filter").value.trim().toLowerCase();
  const shown = breaches.filter((b) =>
    !query ||
    [b.Title, b.Name, b.Domain, ...b.DataClasses].some((f) => f.toLowerCase().includes(query)));
  const list = $("breach-list");
  list.replaceChildren(...shown.map((b) => {
    const li = document.createElement("li");
    const h = document.createElement("h3");
    h.textContent = b.Title;
    const meta = document.createElement("p");
    meta.className = "meta";
    meta.textContent = `${b.Domain || "no domain"} · breached ${b.BreachDate} · ${number.format(b.PwnCount)} accounts`;
    const classes = document.createElement("ul");
    classes.className = "classes";
    classes.setAttribute("aria-label", "Data exposed");
    for (const c of b.DataClasses) {
      const item = document.createElement("li");
      item.textContent = c;
      classes.append(item);
    }
    li.append(h, meta, classes);
    return li;
  }));
  $("breach-count").textContent = `${shown.length} of ${breaches.length} breaches`;
}

// Bars per month from the first breach to the last: height = accounts (square-root scale, so
// small breaches stay visible next to huge ones), label = number of breaches.
function renderTimeline() {
  const box = $("timeline");
  box.replaceChildren();
  if (!breaches.length) return;
  const months = new Map();
  for (const b of breaches) {
    const m = b.BreachDate.slice(0, 7);
    const e = months.get(m) || { breaches: 0, accounts: 0 };
    e.breaches += 1;
    e.accounts += b.PwnCount;
    months.set(m, e);
  }
  const keys = [...months.keys()].sort();
  const [y0, m0] = keys[0].split("-").map(Number);
  const [y1, m1] = keys[keys.length - 1].split("-").map(Number);
  const span = (y1 - y0) * 12 + (m1 - m0) + 1;
  const all = [];
  for (let i = 0; i < span; i++) {
    const y = y0 + Math.floor((m0 - 1 + i) / 12);
    const m = ((m0 - 1 + i) % 12) + 1;
    const key = `${y}-${String(m).padStart(2, "0")}`;
    all.push([key, months.get(key)]);
  }
  const ns = "http://www.w3.org/2000/svg";
  const barW = Math.max(4, Math.min(24, Math.floor(720 / span)));
  const width = Math.max(320, span * barW + 40);
  const height = 180;
  const top = 20, bottom = 30;
  const max = Math.max(...[...months.values()].map((e) => e.accounts));
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("width", String(width));
  svg.setAttribute("role", "img");
  const total = breaches.reduce((s, b) => s + b.PwnCount, 0);
  svg.setAttribute("aria-label",
    `${breaches.length} breaches with ${number.format(total)} accounts from ${keys[0]} to ${keys[keys.length - 1]}`);
  all.forEach(([key, e], i) => {
    const x = 20 + i * barW;
    if (e) {
      const h = Math.max(2, Math.sqrt(e.accounts / max) * (height - top - bottom));
      const rect = document.createElementNS(ns, "rect");
      rect.setAttribute("class", "bar");
      rect.setAttribute("data-month", key);
      rect.setAttribute("x", String(x + 1));
      rect.setAttribute("width", String(barW - 2));
      rect.setAttribute("y", String(height - bottom - h));
      rect.setAttribute("height", String(h));
      const title = document.createElementNS(ns, "title");
      title.textContent = `${key}: ${e.breaches} breach${e.breaches === 1 ? "" : "es"}, ${number.format(e.accounts)} accounts`;
      rect.append(title);
      const label = document.createElementNS(ns, "text");
      label.setAttribute("x", String(x + barW / 2));
      label.setAttribute("y", String(height - bottom - h - 4));
      label.setAttribute("text-anchor", "middle");
      label.textContent = String(e.breaches);
      svg.append(rect, label);
    }
    const first = i === 0;
    const last = i === all.length - 1;
    // Year ticks, plus the first and last month; a year tick too close to either is dropped.
    const yearTick = key.endsWith("-01") && i > 2 && i < all.length - 4;
    if (first || last || yearTick) {
      const tick = document.createElementNS(ns, "text");
      tick.setAttribute("x", String(last && !first ? x + barW : x));
      tick.setAttribute("y", String(height - 10));
      tick.setAttribute("text-anchor", last && !first ? "end" : "start");
      tick.textContent = first || last ? key : key.slice(0, 4);
      svg.append(tick);
    }
  });
  box.append(svg);
}

async function loadBreaches() {
  try {
    const r = await fetch("/api/v3/breaches");
    if (!r.ok) throw new Error(String(r.status));
    breaches = (await r.json()).sort((a, b) => b.BreachDate.localeCompare(a.BreachDate));
  } catch {
    $("breach-count").textContent = "The breach list could not be loaded.";
    return;
  }
  renderTimeline();
  renderBreaches();
}

// ---- wiring ------------------------------------------------------------------------------
document.addEventListener("DOMContentLoaded", () => {
  $("email-form").addEventListener("submit", (e) => {
    e.preventDefault();
    postAddress(e.target, $("email-input"), $("email-result"), "/api/v1/check-by-mail");
  });
  $("alert-form").addEventListener("submit", (e) => {
    e.preventDefault();
    postAddress(e.target, $("alert-input"), $("alert-result"), "/api/v1/subscriptions");
  });
  $("hide-form").addEventListener("submit", (e) => {
    e.preventDefault();
    postAddress(e.target, $("hide-input"), $("hide-result"), "/api/v1/opt-out");
  });
  $("password-form").addEventListener("submit", checkPassword);
  $("breach-filter").addEventListener("input", renderBreaches);
  loadBreaches();
});
