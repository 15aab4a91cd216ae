// The README's development loop, seen from the browser: two pages opened on `trunk serve`
// (http://127.0.0.1:8080), whose proxy forwards socket.io to chat-server on :3000, chat with
// each other. Usage: node dev_loop.js <page url>. Prints "dev loop ok" and exits 0 when it works.
'use strict';
const assert = require('node:assert/strict');
const { chromium } = require('playwright-core');

const [base] = process.argv.slice(2);
setTimeout(() => { console.error('dev loop: timed out'); process.exit(1); }, 120000).unref();

async function named(browser, nick) {
  const page = await browser.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  await page.goto(base);
  await page.waitForSelector('#chat.connected', { timeout: 20000 });
  await page.fill('#nick', nick);
  await page.press('#nick', 'Enter');
  await page.waitForSelector('#chat.nickname-set', { timeout: 10000 });
  return page;
}

(async () => {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking'],
  });
  try {
    const ana = await named(browser, 'DevAna');
    const bo = await named(browser, 'DevBo');
    await ana.fill('#message', 'through trunk serve');
    await ana.press('#message', 'Enter');
    await bo.waitForFunction(() => [...document.querySelectorAll('#lines p')]
      .some((p) => p.textContent.includes('through trunk serve')), null, { timeout: 10000 });
    assert.deepEqual([...ana.errors, ...bo.errors], []);
    console.log('dev loop ok');
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(e); process.exit(1); });
