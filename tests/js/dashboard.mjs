// The organisation dashboard end to end in Debian's Chromium (playwright-core), for two
// tenants, with axe-core run on every page. Driven in phases by
// crates/cli/tests/it/dashboard.rs, which plays the parts a browser cannot: the DNS operator
// publishing the TXT record the page asks for, the breach being published, the mail server.
//
// Usage: node dashboard.mjs BASE_URL SCREENSHOT_DIR EXPECT_JSON
// EXPECT_JSON: phase ("register" | "verify" | "tour"), keyA, keyB (keys of two tenants with
// every scope), domain, contact, vendor {name, domains, classes, criticality}, breach (the
// vendor's breach's title, for "tour").
// Prints one JSON line: {"record": TXT value} for "register"; {"axe": {url: [violation ids of
// impact serious or critical]}, "pages": [...]} for the others. Exits non-zero on the first
// failed assertion.
import assert from "node:assert/strict";
import { launchChromium, scriptArgs, seriousAxeViolations } from "./browser.mjs";

const { base, shots, expect } = scriptArgs();
const url = (path) => new URL(path, base).href;
const browser = await launchChromium();
const axe = {};
const errors = [];

/** axe-core on the page as it is now, kept under `name`. */
async function audit(page, name) {
  axe[name] = await seriousAxeViolations(page);
}

async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  return page;
}

async function signIn(page, key) {
  await page.goto(url("/dashboard"));
  await page.getByLabel("API key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("h2", { hasText: "Overview" }).waitFor();
}

async function open(page, link, heading) {
  await page.getByRole("navigation", { name: "Dashboard" }).getByRole("link", { name: link, exact: true }).click();
  await page.locator("h2", { hasText: heading }).waitFor();
}

try {
  const page = await newPage();
  const out = {};
  if (expect.phase === "register") {
    await page.goto(base, { waitUntil: "networkidle" });
    await audit(page, "/");
    // The control: axe finds what it should on this machine (an image without alt text is
    // critical), so an empty list above means something.
    await page.evaluate(() => document.body.insertAdjacentHTML("beforeend", '<img src="data:,">'));
    await audit(page, "control");
    assert.ok(axe.control.some((v) => v.startsWith("image-alt")), JSON.stringify(axe.control));
    delete axe.control;
    await page.reload({ waitUntil: "networkidle" });
    await page.screenshot({ path: `${shots}/public.png` });
    await page.goto(url("/dashboard"));
    await audit(page, "/dashboard (sign-in)");
    await signIn(page, expect.keyA);
    await audit(page, "/dashboard");
    await open(page, "Domains", "Domains");
    await page.getByLabel("Domain", { exact: true }).fill(expect.domain);
    await page.getByLabel("Alert contact (e-mail)").fill(expect.contact);
    await page.getByRole("button", { name: "Register" }).click();
    await page.getByText(`${expect.domain} is registered: verify it below.`).waitFor();
    await audit(page, "/dashboard/domains");
    const record = await page.locator("#domains code").first().textContent();
    assert.match(record, /^leakwatch-verify=/);
    out.record = record;
  } else if (expect.phase === "verify") {
    await signIn(page, expect.keyA);
    await open(page, "Domains", "Domains");
    await page.getByRole("button", { name: `Check the TXT record of ${expect.domain}` }).click();
    await page.getByText(`${expect.domain} is verified.`).waitFor();
    await open(page, "Vendors", "Vendors");
    const v = expect.vendor;
    await page.getByLabel("Name", { exact: true }).fill(v.name);
    await page.getByLabel("Domains (separated by commas)").fill(v.domains);
    await page.getByLabel(/Data classes you send it/).fill(v.classes);
    await page.getByLabel("Criticality").selectOption(String(v.criticality));
    await page.getByLabel("Owner (gets the impact report)").fill(expect.contact);
    await page.getByRole("button", { name: "Save the vendor" }).click();
    await page.getByText(`${v.name} is saved.`).waitFor();
    assert.equal(await page.locator("#inventory tbody tr", { hasText: v.name }).count(), 1);
    // A form posted without its CSRF token (the same form, from this very page) is refused
    // (and Chromium logs the refusal: that one console error is expected).
    const before = errors.length;
    const status = await page.evaluate(async (name) => {
      const r = await fetch("/dashboard/vendors", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: `name=${name}&domains=x.example&criticality=2`,
      });
      return r.status;
    }, "Sneaky");
    assert.equal(status, 403);
    await page.waitForTimeout(100);
    const refusal = errors.slice(before);
    assert.ok(refusal.every((e) => /status of 403/.test(e)), JSON.stringify(refusal));
    errors.length = before;
    assert.equal(await page.locator("#inventory tbody tr", { hasText: "Sneaky" }).count(), 0);
  } else {
    await signIn(page, expect.keyA);
    // Domains: the breached addresses per breach, with the exposure chart.
    await open(page, "Domains", "Domains");
    await page.getByRole("link", { name: "Breached addresses" }).click();
    await page.locator("h2", { hasText: `Breached addresses of ${expect.domain}` }).waitFor();
    assert.ok(await page.locator("figure svg rect.bar").count() >= 1, "the exposure chart");
    await page.locator("#exposure td", { hasText: expect.breach }).first().waitFor();
    await audit(page, "/dashboard/domains/breaches");
    await page.screenshot({ path: `${shots}/dashboard-exposure.png` });
    // Vendors: the ranking names the vendor hit by the published breach, with its chart.
    await open(page, "Vendors", "Vendors");
    const ranked = page.locator("#ranking tbody tr", { hasText: expect.vendor.name });
    await ranked.first().waitFor();
    assert.ok(await page.locator("figure svg rect.bar").count() >= 1, "the vendors-by-risk chart");
    await audit(page, "/dashboard/vendors");
    await page.screenshot({ path: `${shots}/dashboard-vendors.png` });
    await ranked.first().getByRole("link", { name: /Printable report/ }).click();
    await page.getByText(`Supply-chain impact: ${expect.breach}`).waitFor();
    await page.goBack();
    // Look-alikes of the verified domain, and a sender check.
    await page.goto(url(`/dashboard/lookalikes?domain=${expect.domain}&sender=${encodeURIComponent(expect.lookalikeSender)}`));
    await page.locator("#verdict", { hasText: "imitates" }).waitFor();
    await audit(page, "/dashboard/lookalikes");
    await page.goto(url("/dashboard"));
    await open(page, "Activity", "Activity");
    assert.ok(await page.locator("#audit tbody tr").count() > 0, "the tenant's audit records");
    await audit(page, "/dashboard/activity");
    await page.screenshot({ path: `${shots}/dashboard-activity.png` });
    await open(page, "Passkeys", "Passkeys");
    await audit(page, "/dashboard/passkeys");
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("API key").waitFor();

    // Tenant B sees none of tenant A's rows.
    await signIn(page, expect.keyB);
    assert.doesNotMatch(await page.locator("main").textContent(), new RegExp(expect.domain.replace(".", "\\.")));
    await open(page, "Domains", "Domains");
    assert.doesNotMatch(await page.locator("main").textContent(), new RegExp(expect.domain.replace(".", "\\.")));
    // Tenant A's verified domain is not B's to read: refused (403, which Chromium logs).
    const before = errors.length;
    const refused = await page.goto(url(`/dashboard/domains/breaches?domain=${expect.domain}`));
    assert.equal(refused.status(), 403);
    assert.doesNotMatch(await page.locator("main").textContent(), /@corp/);
    assert.ok(errors.slice(before).every((e) => /status of 403/.test(e)), JSON.stringify(errors));
    errors.length = before;
    await page.goto(url("/dashboard/vendors"));
    assert.doesNotMatch(await page.locator("main").textContent(), new RegExp(expect.vendor.name));
    await page.goto(url("/dashboard/activity"));
    assert.doesNotMatch(await page.locator("#audit").textContent(), /acme/);
  }
  assert.deepEqual(errors, []);
  out.axe = axe;
  console.log(JSON.stringify(out));
} finally {
  await browser.close();
}
