import { accessSync, constants } from 'node:fs';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

const SKIP_REASON = `chromium not found at ${CHROMIUM_PATH}: HTML report browser tests SKIPPED (apt-get install chromium)`;

let warnedMissing = false;

/** Like mosquittoSkip: a skip reason without Chromium, a failure under CI, where a skip would pass silently. */
export function chromiumSkip(): string | false {
  try {
    accessSync(CHROMIUM_PATH, constants.X_OK);
    return false;
  } catch {
    if (process.env.CI === 'true') throw new Error(`${SKIP_REASON}; CI must run them`);
    if (!warnedMissing) {
      warnedMissing = true;
      process.stderr.write(`\n*** ${SKIP_REASON} ***\n\n`);
    }
    return SKIP_REASON;
  }
}

/** The system Chromium, headless, with nothing of its own reaching the network. */
export function launchChromium(executablePath = CHROMIUM_PATH): Promise<Browser> {
  return chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
}
