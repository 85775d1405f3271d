// Headless Debian Chromium for browser tests (playwright-core drives it; no bundled browser),
// and the demo authorization server's login page as a person fills it in. Nothing here
// touches Origin, Referer or cookies: the browser does what browsers do.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Why browser tests cannot run here, or null when they can. */
export function chromiumMissing(): string | null {
  return existsSync(CHROMIUM) ? null : `chromium not installed at ${CHROMIUM} (apt-get install -y chromium)`;
}

export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS, ...extraArgs] });
}

/** On the demo login page: type the user, tick the groups, sign in. */
export async function demoSignIn(page: Page, user: string, groups: string[], actorType = 'human'): Promise<void> {
  await page.waitForSelector('#sign-in');
  await page.fill('#user', user);
  for (const g of groups) await page.check(`input[name=groups][value="${g}"]`);
  await page.selectOption('#actorType', actorType);
  await page.click('#sign-in');
}
