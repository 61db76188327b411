// What every browser script here shares: its command line (BASE_URL SCREENSHOT_DIR
// EXPECT_JSON) and Debian's Chromium, launched headless with the flags this machine's closed
// network needs (no background connections, no QUIC, no component updates).
import { readFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** axe-core (npm) on the page as it is now: its serious and critical violations, as
 *  "rule: selectors" lines. Injected with page.evaluate, which the strict CSP allows. */
export async function seriousAxeViolations(page) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

/** The script's arguments: the base URL, the screenshot directory (made), the expectations. */
export function scriptArgs() {
  const [base, shots, expectFile] = process.argv.slice(2);
  mkdirSync(shots, { recursive: true });
  return { base, shots, expect: JSON.parse(readFileSync(expectFile, "utf8")) };
}

/** Debian's Chromium (or $CHROMIUM), headless. */
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
}
