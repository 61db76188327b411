// Drives `leakwatch demo` in Debian's Chromium with playwright-core: the public page shows the
// demo world's breaches and their timeline, a private check of an address is asked for from
// the page, and its mail is read back from the demo mailbox page (within 5 s of the click).
//
// Usage: node demo.mjs BASE_URL SCREENSHOT_DIR EXPECT_JSON
// EXPECT_JSON (written by crates/cli/tests/it/demo.rs from the API's own answers) holds:
//   breaches (count listed), months (timeline bars expected), checkEmail.
// Prints one JSON line: {"mail": TEXT, "subject": SUBJECT, "waitedMs": N}; exits non-zero on
// the first failed assertion.
import assert from "node:assert/strict";
import { readFileSync, mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const [base, shots, expectFile] = process.argv.slice(2);
const expect = JSON.parse(readFileSync(expectFile, "utf8"));
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
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
  assert.deepEqual(errors, []);
  console.log(JSON.stringify({ mail: found.text, subject: found.subject, waitedMs }));
} finally {
  await browser.close();
}
