// Drives leakwatch's web page in Debian's Chromium with playwright-core: every flow is
// clicked (or typed) through and asserted, and a screenshot of each is saved.
//
// Usage: node web.mjs BASE_URL SCREENSHOT_DIR EXPECT_JSON
// EXPECT_JSON (written by crates/cli/tests/it/web.rs from its own reference) holds:
//   knownPassword, knownCount, unknownPassword, breaches (count), months (bars expected),
//   filter {query, expected}, checkEmail, subscribeEmail, hideEmail.
// Prints one JSON line with what the page sent, for the Rust side to check against the SMTP
// server; exits non-zero on the first failed assertion.
import assert from "node:assert/strict";
import { launchChromium, scriptArgs } from "./browser.mjs";

const { base, shots, expect } = scriptArgs();
const browser = await launchChromium();
const sent = { ranges: [], otherOrigins: [], bodies: [] };
try {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("request", (req) => {
    const url = new URL(req.url());
    if (url.origin !== new URL(base).origin) sent.otherOrigins.push(req.url());
    if (url.pathname.startsWith("/range/")) {
      sent.ranges.push({ path: url.pathname, padding: req.headers()["add-padding"] ?? null });
    }
    if (req.postData()) sent.bodies.push(req.postData());
  });

  await page.goto(base, { waitUntil: "networkidle" });
  assert.equal(await page.title(), "leakwatch — am I affected by a data breach?");

  // Accessibility basics: one h1, every input labelled, every section titled.
  assert.equal(await page.locator("h1").count(), 1);
  const unlabelled = await page.$$eval("input", (inputs) =>
    inputs.filter((i) => !i.labels || i.labels.length === 0).map((i) => i.id));
  assert.deepEqual(unlabelled, []);

  // ---- Breach catalogue and timeline -----------------------------------------------------
  await page.locator("#breach-list > li").first().waitFor();
  assert.equal(await page.locator("#breach-list > li").count(), expect.breaches);
  assert.equal(await page.locator("#breach-count").textContent(),
    `${expect.breaches} of ${expect.breaches} breaches`);
  assert.equal(await page.locator("#timeline svg rect.bar").count(), expect.months);
  await page.getByLabel("Search breaches").fill(expect.filter.query);
  assert.equal(await page.locator("#breach-list > li").count(), expect.filter.expected);
  assert.match(await page.locator("#breach-list").textContent(), new RegExp(expect.filter.title));
  await page.locator("#breaches").screenshot({ path: `${shots}/breaches.png` });
  await page.getByLabel("Search breaches").fill("");

  // ---- Password check (k-anonymity) --------------------------------------------------------
  await page.getByLabel("Password", { exact: true }).fill(expect.knownPassword);
  await page.getByRole("button", { name: "Check password" }).click();
  await page.locator("#password-result p").waitFor();
  const seen = await page.locator("#password-result").textContent();
  assert.match(seen, new RegExp(`seen ${expect.knownCount.toLocaleString("en")} times`));
  assert.equal(await page.getByLabel("Password", { exact: true }).inputValue(), "",
    "the password is cleared from the form");
  await page.locator("#password").screenshot({ path: `${shots}/password-found.png` });
  // By keyboard this time: type and press Enter.
  await page.getByLabel("Password", { exact: true }).focus();
  await page.keyboard.type(expect.unknownPassword);
  await page.keyboard.press("Enter");
  await page.waitForFunction(() =>
    document.querySelector("#password-result p")?.textContent.includes("not found"));
  await page.locator("#password").screenshot({ path: `${shots}/password-not-found.png` });
  assert.equal(sent.ranges.length, 2);
  for (const r of sent.ranges) {
    assert.match(r.path, /^\/range\/[0-9A-F]{5}$/, "only a 5-hex prefix is sent");
    assert.equal(r.padding, "true");
  }

  // ---- Private e-mail check ----------------------------------------------------------------
  await page.locator("#email-input").fill("not an address");
  await page.getByRole("button", { name: "Mail me the result" }).click();
  assert.match(await page.locator("#email-result").textContent(), /Enter an e-mail address/);
  await page.locator("#email-input").fill(expect.checkEmail);
  await page.getByRole("button", { name: "Mail me the result" }).click();
  await page.waitForFunction(() =>
    document.querySelector("#email-result").textContent.includes("Look in your inbox"));
  await page.locator("#email").screenshot({ path: `${shots}/email-check.png` });

  // ---- Subscribe to alerts -----------------------------------------------------------------
  await page.locator("#alert-input").fill(expect.subscribeEmail);
  await page.getByRole("button", { name: "Subscribe" }).click();
  await page.waitForFunction(() =>
    document.querySelector("#alert-result").textContent.includes("confirmation link"));
  await page.locator("#alerts").screenshot({ path: `${shots}/subscribe.png` });

  // ---- Hide an address (opt-out) -------------------------------------------------------------
  await page.locator("#hide-input").fill(expect.hideEmail);
  await page.getByRole("button", { name: "Mail me the link" }).click();
  await page.waitForFunction(() =>
    document.querySelector("#hide-result").textContent.includes("confirmation link"));
  await page.locator("#hide").screenshot({ path: `${shots}/hide.png` });
  await page.screenshot({ path: `${shots}/page.png`, fullPage: true });

  // ---- On a phone: no sideways scrolling ---------------------------------------------------
  const phone = await browser.newContext({
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
  });
  const small = await phone.newPage();
  await small.goto(base, { waitUntil: "networkidle" });
  await small.locator("#breach-list > li").first().waitFor();
  const overflow = await small.evaluate(() =>
    document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `the page scrolls sideways on a phone by ${overflow}px`);
  await small.screenshot({ path: `${shots}/phone.png`, fullPage: true });

  assert.deepEqual(errors, [], "no script errors");
  assert.deepEqual(sent.otherOrigins, [], "nothing requested from elsewhere");
  for (const body of sent.bodies) {
    assert.ok(!body.includes(expect.knownPassword) && !body.includes(expect.unknownPassword),
      "no password in any request body");
  }
  console.log(JSON.stringify({ ok: true, ranges: sent.ranges }));
} finally {
  await browser.close();
}
