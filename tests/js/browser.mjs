// What every browser script here shares: its command line (BASE_URL SCREENSHOT_DIR
// EXPECT_JSON) and Debian's Chromium, launched headless with the flags this machine's closed
// network needs (no background connections, no QUIC, no component updates).
import { readFileSync, mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

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
