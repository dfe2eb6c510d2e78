import puppeteer from 'puppeteer-core';
const [url, key, out] = process.argv.slice(2);
const browser = await puppeteer.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
const page = await browser.newPage();
await page.setViewport({ width: 1400, height: 1000 });
const logs = [];
page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
await page.goto(url);
await page.type('#key', key);
await page.click('#signin-form button[type=submit]');
await page.waitForSelector('#app:not([hidden])', { timeout: 10000 }).catch(() => {});
await new Promise((r) => setTimeout(r, 3000));
for (const tab of ['network', 'queues', 'approvals', 'limits', 'routes', 'audit']) {
  await page.click(`#tab-${tab}`);
  if (tab === 'routes') { await page.click('#quote-form button[type=submit]'); await new Promise((r) => setTimeout(r, 1000)); }
  await new Promise((r) => setTimeout(r, 500));
  await page.screenshot({ path: `${out}/${tab}.png`, fullPage: true });
}
console.log(logs.join('\n'));
console.log(await page.$eval('#signin-error', (e) => e.textContent));
await browser.close();
