// The web page's "Check a login" form in Debian's Chromium (playwright-core): the browser's
// own implementation of the private credential check (check-login.js over credentials.js and
// the vendored @noble/curves OPRF) against a running server, under the page's strict CSP.
//
// Usage: node check-login.mjs BASE_URL SCREENSHOT_DIR EXPECT_JSON
// EXPECT_JSON (written by crates/cli/tests/it/credentials.rs) holds `form`: a few
// {login, password, result} typed into the form and read back, and `pairs`: every
// [login, password] the Rust side asks, which the page's module answers in bulk.
// Prints one JSON line: {"answers": [...], "bodies": [...], "otherOrigins": [...]}.
import assert from "node:assert/strict";
import { launchChromium, scriptArgs, seriousAxeViolations } from "./browser.mjs";

const { base, shots, expect } = scriptArgs();
const browser = await launchChromium();
const sent = { bodies: [], otherOrigins: [] };
try {
  const page = await (await browser.newContext({ viewport: { width: 1100, height: 900 } })).newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("request", (req) => {
    if (new URL(req.url()).origin !== new URL(base).origin) sent.otherOrigins.push(req.url());
    if (req.method() === "POST" && req.postData()) sent.bodies.push(req.postData());
  });
  await page.goto(base, { waitUntil: "networkidle" });

  // The form, as a person uses it: type, click, read the answer.
  const words = { exact: /leaked together/, similar: /very like this one/, "not found": /^Not found/ };
  for (const [i, c] of expect.form.entries()) {
    await page.getByLabel("Login (e-mail address or username)").fill(c.login);
    await page.getByLabel("Its password").fill(c.password);
    await page.getByRole("button", { name: "Check login" }).click();
    await page.waitForFunction(() => {
      const t = document.getElementById("login-result").textContent;
      return t && t !== "Checking…";
    });
    const text = await page.locator("#login-result").textContent();
    assert.match(text, words[c.result], `${c.login}: ${text}`);
    assert.equal(await page.getByLabel("Its password").inputValue(), "", "the password is cleared");
    if (i < 3) await page.locator("#login").screenshot({ path: `${shots}/login-${c.result.replace(" ", "-")}.png` });
  }
  assert.deepEqual(await seriousAxeViolations(page), []);

  // Every pair through the page's own module (the code the form runs), in the page.
  const answers = await page.evaluate(async (pairs) => {
    const { checkLogin } = await import("/assets/check-login.js");
    const out = [];
    for (const [login, password] of pairs) out.push((await checkLogin(login, password)) ?? "not found");
    return out;
  }, expect.pairs);
  assert.deepEqual(errors, []);
  console.log(JSON.stringify({ answers, bodies: sent.bodies, otherOrigins: sent.otherOrigins }));
} finally {
  await browser.close();
}
