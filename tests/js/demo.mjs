// Drives `leakwatch demo` in Debian's Chromium with playwright-core: the public page shows the
// demo world's breaches and their timeline, a private check of an address is asked for from
// the page, and its mail is read back from the demo mailbox page (within 5 s of the click).
//
// Usage: node demo.mjs BASE_URL SCREENSHOT_DIR EXPECT_JSON
// EXPECT_JSON (written by crates/cli/tests/it/demo.rs from the API's own answers) holds:
//   breaches (count listed), months (timeline bars expected), checkEmail, and the printed
//   key and the tenant's domain for the dashboard's sign-in.
// Prints one JSON line: {"mail": TEXT, "subject": SUBJECT, "waitedMs": N}; exits non-zero on
// the first failed assertion.
import assert from "node:assert/strict";
import { launchChromium, scriptArgs } from "./browser.mjs";

const { base, shots, expect } = scriptArgs();
const browser = await launchChromium();
try {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });

  await page.goto(base, { waitUntil: "networkidle" });
  await page.locator("#breach-list > li").first().waitFor();
  assert.equal(await page.locator("#breach-list > li").count(), expect.breaches);
  assert.equal(await page.locator("#breach-count").textContent(),
    `${expect.breaches} of ${expect.breaches} breaches`);
  assert.equal(await page.locator("#timeline svg rect.bar").count(), expect.months);
  await page.locator("#breaches").screenshot({ path: `${shots}/demo-breaches.png` });

  // The private check, asked for from the page; its mail read back from the demo mailbox.
  await page.locator("#email-input").fill(expect.checkEmail);
  const clicked = Date.now();
  await page.getByRole("button", { name: "Mail me the result" }).click();
  await page.locator("#email-result").filter({ hasText: /inbox/i }).waitFor();
  const mailbox = await context.newPage();
  let found = null;
  while (found === null && Date.now() - clicked < 5000) {
    await mailbox.goto(new URL("/demo/mailbox", base).href);
    const mails = await mailbox.$$eval("ol.mailbox > li", (items) => items.map((li) => ({
      subject: li.querySelector("h2").textContent,
      meta: li.querySelector(".meta").textContent,
      text: li.querySelector("pre").textContent,
    })));
    found = mails.find((m) => m.subject === "Your leakwatch check"
      && m.meta.startsWith(`To ${expect.checkEmail} `)) ?? null;
    if (found === null) await mailbox.waitForTimeout(200);
  }
  assert.ok(found, `no check mail for ${expect.checkEmail} in the demo mailbox within 5 s`);
  const waitedMs = Date.now() - clicked;
  await mailbox.screenshot({ path: `${shots}/demo-mailbox.png` });

  // The dashboard in the browser: the printed key signs in through the form (a same-origin
  // POST with Chromium's own Origin and Sec-Fetch-Site), the cookie is invisible to scripts,
  // the Vendors page draws its chart, and signing out ends the session.
  const dash = await context.newPage();
  dash.on("pageerror", (e) => errors.push(String(e)));
  dash.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  await dash.goto(new URL("/dashboard", base).href);
  await dash.getByLabel("API key").fill(expect.key);
  await dash.getByRole("button", { name: "Sign in" }).click();
  await dash.locator("h2", { hasText: "Overview" }).waitFor();
  assert.match(await dash.locator("main").textContent(), new RegExp(expect.tenantDomain.replace(".", "\\.")));
  assert.equal(await dash.evaluate(() => document.cookie), "", "the session cookie is HttpOnly");
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "leakwatch_dashboard");
  assert.ok(session && session.httpOnly && session.sameSite === "Strict", JSON.stringify(cookies));
  await dash.getByRole("link", { name: "Vendors" }).click();
  await dash.locator("h2", { hasText: "Vendors" }).waitFor();
  assert.ok(await dash.locator("svg rect.bar").count() > 0, "the vendors-by-risk chart");
  await dash.screenshot({ path: `${shots}/dashboard-vendors.png`, fullPage: true });
  await dash.getByRole("button", { name: "Sign out" }).click();
  await dash.getByLabel("API key").waitFor();
  assert.equal((await context.cookies()).filter((c) => c.name === "leakwatch_dashboard" && c.value).length, 0);

  assert.deepEqual(errors, []);
  console.log(JSON.stringify({ mail: found.text, subject: found.subject, waitedMs }));
} finally {
  await browser.close();
}
