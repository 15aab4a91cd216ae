// The README's development loop, seen from the browser: two pages opened on `trunk serve`
// (http://127.0.0.1:8080), whose proxy forwards socket.io to chat-server on :3000, chat with
// each other; then the text of a component is edited in the sources trunk serves (a copy: see
// tests/tests/dev_loop.rs) and the open pages reload by themselves (trunk's live reload), show
// the edit, and still chat. Usage: node dev_loop.js <page url> <the served sources' directory>.
// Prints "dev loop ok" and exits 0 when it works.
'use strict';
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');

const [base, sources] = process.argv.slice(2);
// A rebuild after the edit (cargo in release mode per Trunk.toml, wasm-bindgen, wasm-opt) took
// ~20 s on 2 cores; the bound leaves room for a machine busy with other tests.
const RELOAD_WITHIN = 180000;
setTimeout(() => { console.error('dev loop: timed out'); process.exit(1); }, RELOAD_WITHIN + 60000).unref();

async function opened(browser) {
  const page = await browser.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  await page.goto(base);
  await page.waitForSelector('#chat.connected', { timeout: 20000 });
  return page;
}
async function named(browser, nick) {
  const page = await opened(browser);
  await page.fill('#nick', nick);
  await page.press('#nick', 'Enter');
  await page.waitForSelector('#chat.nickname-set', { timeout: 10000 });
  return page;
}
const lineWith = (page, text) => page.waitForFunction((t) => [...document.querySelectorAll('#lines p')]
  .some((p) => p.textContent.includes(t)), text, { timeout: 10000 });

// Polled from here: an evaluate that meets the reload (its context destroyed) just tries again.
async function until(page, check, within, what) {
  const deadline = Date.now() + within;
  for (;;) {
    if (await page.evaluate(check).catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`not within ${within} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// The Rust source file under client/src that holds `text` as a string literal, exactly once.
function sourceOf(text) {
  const literal = JSON.stringify(text); // the same as Rust's for text without escapes
  const files = fs.readdirSync(path.join(sources, 'client/src'), { recursive: true })
    .filter((f) => f.endsWith('.rs')).map((f) => path.join(sources, 'client/src', f));
  const holders = files.filter((f) => fs.readFileSync(f, 'utf8').includes(literal));
  assert.equal(holders.length, 1, `exactly one source holds ${literal}: ${holders}`);
  assert.equal(fs.readFileSync(holders[0], 'utf8').split(literal).length, 2, `${literal} once in ${holders[0]}`);
  return { file: holders[0], literal };
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
    await lineWith(bo, 'through trunk serve');

    // Live reload: edit the nickname prompt (found by the text the page shows, so that the test
    // follows the sources wherever the string moves) and wait for the open pages to reload.
    const newcomer = await opened(browser);
    const prompt = await newcomer.textContent('label[for=nick]');
    assert.ok(prompt.length > 10, `the nickname prompt is shown: ${JSON.stringify(prompt)}`);
    const { file, literal } = sourceOf(prompt);
    const edited = `Live reload ${Date.now()}: your nickname, then Enter.`;
    for (const page of [ana, bo, newcomer]) await page.evaluate(() => { window.__before = 1; });
    const since = Date.now();
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(literal, JSON.stringify(edited)));
    await until(newcomer, `window.__before === undefined && document.querySelector('label[for=nick]')?.textContent === ${JSON.stringify(edited)}`,
      RELOAD_WITHIN, `the page reloaded and shows "${edited}"`);
    console.log(`rebuilt and reloaded ${Date.now() - since} ms after the edit of ${path.relative(sources, file)}`);
    for (const page of [ana, bo]) {
      await until(page, 'window.__before === undefined && !!document.querySelector("#chat.nickname-set")', 20000, 'a named page reloaded and named again');
    }
    await bo.fill('#message', 'after the reload');
    await bo.press('#message', 'Enter');
    await lineWith(ana, 'after the reload');
    assert.deepEqual([...ana.errors, ...bo.errors, ...newcomer.errors], []);
    console.log('dev loop ok');
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(e); process.exit(1); });
