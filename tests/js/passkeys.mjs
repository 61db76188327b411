// The dashboard's passkeys in Debian's Chromium with a virtual authenticator (CDP
// WebAuthn.addVirtualAuthenticator, CTAP2, user verification): a tenant's key signs in and
// enrols a passkey; from then on another key of the same tenant lands on the passkey step,
// every page sends it back there, and the virtual authenticator's signature opens the
// dashboard.
//
// Usage: node passkeys.mjs BASE_URL SCREENSHOT_DIR EXPECT_JSON
// EXPECT_JSON (written by crates/cli/tests/it/dashboard.rs): enrolKey, secondKey (two keys of
// one tenant holding the dashboard scope), tenantDomain, passkeyName.
// Prints one JSON line: {"stepUrl": URL after signing in with the key alone, "guardedUrl":
// where /dashboard/vendors led before the passkey, "verifyBody": the signed answer the page
// posted (for the Rust side to replay), "lastUsed": the passkey's "Last used" cell}.
import assert from "node:assert/strict";
import { launchChromium, scriptArgs, seriousAxeViolations } from "./browser.mjs";

const { base, shots, expect } = scriptArgs();
const browser = await launchChromium();
try {
  const context = await browser.newContext({ viewport: { width: 1000, height: 800 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  let verifyBody = null;
  page.on("request", (r) => {
    if (r.url().endsWith("/dashboard/passkey/verify")) verifyBody = r.postData();
  });

  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2", transport: "internal", hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
    },
  });

  const signIn = async (key) => {
    await page.goto(new URL("/dashboard", base).href);
    await page.getByLabel("API key").fill(key);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForLoadState("load");
  };

  // No passkey yet: the key alone opens the dashboard; enrol one from the Passkeys page.
  await signIn(expect.enrolKey);
  await page.locator("h2", { hasText: "Overview" }).waitFor();
  await page.getByRole("link", { name: "Passkeys" }).click();
  await page.locator("h2", { hasText: "Passkeys" }).waitFor();
  await page.getByLabel("Name of the new passkey").fill(expect.passkeyName);
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await page.locator("#passkeys td", { hasText: expect.passkeyName }).waitFor();
  assert.deepEqual(await seriousAxeViolations(page), [], "axe on the Passkeys page");
  await page.screenshot({ path: `${shots}/dashboard-passkeys.png`, fullPage: true });
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByLabel("API key").waitFor();

  // Another key of the tenant: the key alone reaches only the passkey step.
  await signIn(expect.secondKey);
  await page.locator("h2", { hasText: "Confirm with your passkey" }).waitFor();
  const stepUrl = page.url();
  assert.deepEqual(await seriousAxeViolations(page), [], "axe on the passkey step");
  assert.doesNotMatch(await page.locator("main").textContent(), new RegExp(expect.tenantDomain.replace(".", "\\.")));
  await page.goto(new URL("/dashboard/vendors", base).href);
  await page.locator("h2", { hasText: "Confirm with your passkey" }).waitFor();
  const guardedUrl = page.url();

  // The virtual authenticator signs the challenge: the dashboard opens.
  await page.getByRole("button", { name: "Use a passkey" }).click();
  await page.locator("h2", { hasText: "Overview" }).waitFor();
  assert.match(await page.locator("main").textContent(), new RegExp(expect.tenantDomain.replace(".", "\\.")));
  await page.getByRole("link", { name: "Passkeys" }).click();
  const row = page.locator("#passkeys tbody tr", { hasText: expect.passkeyName });
  await row.waitFor();
  const lastUsed = (await row.locator("td").nth(2).textContent()).trim();

  assert.deepEqual(errors, []);
  assert.ok(verifyBody, "the page posted its signed answer");
  console.log(JSON.stringify({ stepUrl, guardedUrl, verifyBody, lastUsed }));
} finally {
  await browser.close();
}
