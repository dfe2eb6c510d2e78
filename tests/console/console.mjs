// Drives the operators' console in Debian's chromium (headless, through
// puppeteer-core, which downloads no browser) against a real daemon on the
// devnet. Run by tests/console.rs, which starts the devnet and the daemon,
// submits the payouts, and checks on the API and on chain what this script
// did in the page. Prints one JSON line of measurements at the end.
//
// Env: CONSOLE_URL, KEY_OLIVIA, KEY_OSCAR (operators), KEY_WALLY (a
// wallet), BIG_PAYOUT (a payout waiting for two operators), FREEZE_PID
// (the process of devnet-c's node), SHOTS (where screenshots go),
// CHROMIUM (the browser, default /usr/bin/chromium).

import assert from 'node:assert/strict';
import puppeteer from 'puppeteer-core';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const URL_ = env('CONSOLE_URL');
const SHOTS = env('SHOTS');
const BIG = env('BIG_PAYOUT');
const FREEZE_PID = Number(env('FREEZE_PID'));
const step = (s) => console.error(`console test: ${s}`);

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  // Root in CI: chromium's sandbox needs an unprivileged user.
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const problems = [];
const measured = {};

async function open(context, name) {
  const page = await context.newPage();
  await page.setViewport({ width: 1400, height: 900 });
  page.on('pageerror', (e) => problems.push(`${name}: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`${name} console: ${m.text()}`);
  });
  const res = await page.goto(URL_, { waitUntil: 'load' });
  const csp = res.headers()['content-security-policy'] || '';
  assert.match(csp, /script-src 'self';/, 'a strict Content-Security-Policy');
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  return page;
}

async function signIn(page, key) {
  await page.$eval('#key', (e) => { e.value = ''; });
  await page.type('#key', key);
  await page.click('#signin-form button[type=submit]');
}

const text = (page, sel) => page.$eval(sel, (e) => e.textContent);
/** Finds and clicks a control in one step inside the page (a live table
 *  may replace its rows between a lookup and a click from outside). */
async function press(page, sel) {
  await page.waitForSelector(sel);
  await page.$eval(sel, (b) => b.click());
}
const waitText = (page, sel, re, timeout = 20000) =>
  page.waitForFunction((s, src) => {
    const e = document.querySelector(s);
    return e && new RegExp(src).test(e.textContent);
  }, { timeout, polling: 100 }, sel, re.source);

async function tab(page, name) {
  await page.click(`#tab-${name}`);
  await page.waitForSelector(`#view-${name}:not([hidden])`);
}

async function shot(page, name, fullPage = true) {
  // Let the last update paint.
  await new Promise((r) => setTimeout(r, 300));
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage });
}

/** Fills the dialog and confirms; `empty` first tries without a reason. */
async function confirmReason(page, reason, empty = false) {
  await page.waitForSelector('#ask[open]');
  if (empty) {
    await page.click('#ask-ok');
    await waitText(page, '#ask-error', /reason is required/);
    assert.ok(await page.$('#ask[open]'), 'the dialog stays open without a reason');
  }
  await page.type('#ask-reason', reason);
  await page.click('#ask-ok');
  await page.waitForSelector('#ask:not([open])');
}

async function rowOf(page, container, first) {
  return page.$$eval(`#${container} tbody tr`, (rows, f) => {
    const r = rows.find((tr) => tr.cells[0] && tr.cells[0].textContent.trim() === f);
    return r ? [...r.cells].map((c) => c.textContent.trim()) : null;
  }, first);
}

async function quote(page, from, to, amount) {
  await tab(page, 'routes');
  await page.select('#q-from', from);
  await page.select('#q-to', to);
  await page.$eval('#q-amount', (e) => { e.value = ''; });
  await page.type('#q-amount', amount);
  await page.$eval('#quote-routes', (e) => e.replaceChildren());
  await page.click('#quote-form button[type=submit]');
  await page.waitForSelector('#quote-routes .route, #quote-chart .empty', { timeout: 10000 });
  return page.$$eval('#quote-routes .route', (rs) => rs.map((r) => [...r.querySelectorAll('tbody tr')].map((tr) => tr.cells[0].textContent.trim())));
}

// ------------------------------------------------------------------ sign in
const ctxA = await browser.createBrowserContext();
const a = await open(ctxA, 'olivia');

step('a wallet key is refused');
await signIn(a, env('KEY_WALLY'));
await waitText(a, '#signin-error', /wallet key: the console needs an operator or admin key/);
assert.equal(await a.$eval('#app', (e) => e.hidden), true, 'the console stays closed');
assert.equal(await a.evaluate(() => sessionStorage.length), 0, 'a refused key is not kept');

step('an unknown key is refused');
await signIn(a, 'sy_operator_0000');
await waitText(a, '#signin-error', /Unknown or revoked API key/);

step('an operator signs in');
await signIn(a, env('KEY_OLIVIA'));
await a.waitForSelector('#app:not([hidden])');
await waitText(a, '#who', /olivia · operator/);
assert.equal(await a.evaluate(() => document.cookie), '', 'no cookie');
assert.ok(!a.url().includes(env('KEY_OLIVIA')), 'the key is not in the URL');
assert.equal(await a.evaluate(() => sessionStorage.getItem('switchyard.key')), env('KEY_OLIVIA'));
await waitText(a, '#chains', /devnet-c/);
await waitText(a, '#bridges', /escrow-a-b/);

step('tabs answer the keyboard');
await a.focus('#tab-network');
await a.keyboard.press('ArrowRight');
assert.equal(await a.$eval('#tab-queues', (e) => e.getAttribute('aria-selected')), 'true');
assert.equal(await a.evaluate(() => document.activeElement.id), 'tab-queues');
await a.keyboard.press('ArrowLeft');
assert.equal(await a.$eval('#tab-network', (e) => e.getAttribute('aria-selected')), 'true');

step('the route explorer draws the quote');
const before = await quote(a, 'devnet-a:TUSD', 'devnet-b:TUSD', '250');
assert.ok(before.length > 0, 'routes before the pause');
assert.ok(before.some((legs) => legs.includes('escrow-a-b')), `a route uses escrow-a-b: ${JSON.stringify(before)}`);
assert.equal(await a.$$eval('#quote-chart svg circle', (c) => c.length), before.length, 'one point per route');

step('pause a bridge with a reason');
await tab(a, 'network');
await press(a, 'button[aria-label="Pause bridge escrow-a-b"]');
const REASON = 'signer rotation on escrow-a-b (console test)';
await confirmReason(a, REASON, true);
await a.waitForFunction(() => {
  const r = [...document.querySelectorAll('#bridges tbody tr')].find((tr) => tr.cells[0].textContent.trim() === 'escrow-a-b');
  return r && /paused/.test(r.textContent) && /by olivia/.test(r.textContent);
}, { timeout: 10000 });
const row = await rowOf(a, 'bridges', 'escrow-a-b');
assert.ok(row.join(' ').includes(REASON), `the reason is shown: ${row}`);
assert.ok(await a.$('button[aria-label="Resume bridge escrow-a-b"]'), 'it can be resumed');

step('the route explorer routes around it');
const after = await quote(a, 'devnet-a:TUSD', 'devnet-b:TUSD', '250');
assert.ok(after.length > 0, 'still a route');
assert.ok(after.every((legs) => !legs.includes('escrow-a-b')), `no route uses escrow-a-b: ${JSON.stringify(after)}`);
const excluded = await a.$$eval('#quote-excluded tbody tr', (rs) => rs.map((r) => [...r.cells].map((c) => c.textContent.trim())));
assert.ok(excluded.some((r) => r[0] === 'escrow-a-b' && r[1] === 'paused'), `escrow-a-b excluded as paused: ${JSON.stringify(excluded)}`);
measured.routes_after_pause = after;
await shot(a, 'routes');

step('the audit log gains the entry, and its chain verifies');
await tab(a, 'audit');
await a.waitForFunction((reason) => [...document.querySelectorAll('#audit tbody tr')].some((tr) => {
  const c = [...tr.cells].map((x) => x.textContent.trim());
  return c[2] === 'olivia' && c[3] === 'pause' && c[4] === 'bridge:escrow-a-b' && c[5] === reason;
}), { timeout: 10000 }, REASON);
await waitText(a, '#audit-verify', /Hash chain verified/);
await shot(a, 'audit');

// ------------------------------------------------------------------ approvals
step('two operators approve a large payout');
await tab(a, 'approvals');
await a.waitForFunction((id) => [...document.querySelectorAll('#approvals tbody tr')].some((tr) => tr.cells[0].textContent.trim() === id && /0 of 2/.test(tr.textContent)), { timeout: 20000 }, BIG);
await press(a, `button[aria-label="Approve payout ${BIG}"]`);
await a.waitForFunction((id) => [...document.querySelectorAll('#approvals tbody tr')].some((tr) => tr.cells[0].textContent.trim() === id && /1 of 2 \(olivia\)/.test(tr.textContent) && /You approved/.test(tr.textContent)), { timeout: 10000 }, BIG);
assert.equal(await a.$eval(`button[aria-label="Approve payout ${BIG}"]`, (b) => b.disabled), true, 'one operator cannot approve twice');

const ctxB = await browser.createBrowserContext();
const b = await open(ctxB, 'oscar');
await signIn(b, env('KEY_OSCAR'));
await b.waitForSelector('#app:not([hidden])');
await tab(b, 'approvals');
// The second operator sees the first's approval.
await b.waitForFunction((id) => [...document.querySelectorAll('#approvals tbody tr')].some((tr) => tr.cells[0].textContent.trim() === id && /1 of 2 \(olivia\)/.test(tr.textContent)), { timeout: 10000 }, BIG);
await shot(b, 'approvals');
await press(b, `button[aria-label="Approve payout ${BIG}"]`);
// Admitted: it leaves the list, in both operators' pages.
for (const p of [a, b]) {
  await p.waitForFunction((id) => ![...document.querySelectorAll('#approvals tbody tr')].some((tr) => tr.cells[0].textContent.trim() === id), { timeout: 15000 }, BIG);
}

step('queues and limits');
await tab(b, 'queues');
await b.waitForSelector('#queue-charts svg', { timeout: 20000 });
await waitText(b, '#held', /governor/);
await shot(b, 'queues');
await tab(b, 'limits');
await waitText(b, '#governor', /devnet-c/);
await waitText(b, '#governor', /queued behind it/);
await waitText(b, '#merchants', /acme/);
await waitText(b, '#merchants', /\$1,040 left of \$2,000/);
await shot(b, 'limits');

// ------------------------------------------------------------------ breaker
step('a frozen chain opens its breaker in the page');
await tab(a, 'network');
await shot(a, 'network');
process.kill(FREEZE_PID, 'SIGSTOP');
const t0 = Date.now();
try {
  await a.waitForFunction(() => {
    const r = [...document.querySelectorAll('#chains tbody tr')].find((tr) => tr.cells[0].textContent.trim() === 'devnet-c');
    return r && /\bopen\b/.test(r.cells[7].textContent);
  }, { timeout: 30000, polling: 100 });
  measured.breaker_open_seen_ms = Date.now() - t0;
  await shot(a, 'network-breaker-open');
} finally {
  process.kill(FREEZE_PID, 'SIGCONT');
}
await a.waitForFunction(() => {
  const r = [...document.querySelectorAll('#chains tbody tr')].find((tr) => tr.cells[0].textContent.trim() === 'devnet-c');
  return r && /closed/.test(r.cells[7].textContent);
}, { timeout: 40000, polling: 200 });
measured.breaker_closed_again_ms = Date.now() - t0;

step('resume the bridge');
await press(a, 'button[aria-label="Resume bridge escrow-a-b"]');
await confirmReason(a, 'rotation done');
await a.waitForFunction(() => {
  const r = [...document.querySelectorAll('#bridges tbody tr')].find((tr) => tr.cells[0].textContent.trim() === 'escrow-a-b');
  return r && /resumed by olivia/.test(r.textContent);
}, { timeout: 10000 });

step('a phone-sized window');
await a.setViewport({ width: 390, height: 844, isMobile: true });
await shot(a, 'phone', false);
const overflow = await a.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
assert.ok(overflow <= 1, `the page itself does not scroll sideways on a phone (${overflow}px); wide tables scroll in their box`);

step('sign out forgets the key');
await a.click('#signout');
await a.waitForSelector('#signin:not([hidden])');
assert.equal(await a.evaluate(() => sessionStorage.length), 0);

await browser.close();
assert.deepEqual(problems, [], 'no script errors and no policy violations in the page');
console.log(JSON.stringify(measured));
