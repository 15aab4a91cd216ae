// The page's bounded window of lines (PAGE_LINES_MAX in shared/src/limits.rs), in headless
// Chromium against the real chat-server: a page that follows a busy chat keeps at most the
// maximum in its DOM (the oldest go), scrolling to the top brings older lines back from the
// history (the newest go), lines that arrive meanwhile are counted on the jump button, and the
// button brings the newest back; right after the jump, a busy chat of thousands of lines keeps it
// at the live end, its wasm memory flat. Usage: node window.js <chat-server binary> <port> <max lines>
// (the script starts and stops the server, with the message limits lifted so that a bot can
// fill the history quickly). Exits 0 when all checks pass.
'use strict';
const assert = require('node:assert/strict');
const { startBusyServer, busyBot, untilLast } = require('./busy_chat');
const { chromium } = require('playwright-core');

const [bin, port, maxArg] = process.argv.slice(2);
const MAX = Number(maxArg);
const base = `http://127.0.0.1:${port}`;
setTimeout(() => { console.error('window: timed out'); process.exit(1); }, 240000).unref();

const startServer = () => startBusyServer(bin, port);

const bot = (nick) => busyBot(base, nick);

// The numbers of the bot's lines in the page's DOM, in order.
const shown = (page) => page.$$eval('#lines p.user .text', (els) => els
  .map((e) => /^line (\d+)$/.exec(e.textContent)).filter(Boolean).map((m) => Number(m[1])));

(async () => {
  const server = await startServer();
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  let failed = false;
  let page;
  try {
    const bob = await bot('Bob');
    await bob.say(MAX * 2); // history the page has never seen
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    // trunk announces the started wasm (its exports, with its memory).
    await page.addInitScript(() => addEventListener('TrunkApplicationStarted', (e) => { window.__wasm = e.detail && e.detail.wasm; }));
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (process.env.WINDOW_DEBUG) console.log(`console: ${m.text()}`); });
    await page.goto(base);
    await page.waitForSelector('#chat.connected', { timeout: 10000 });
    await page.fill('#nick', 'Reader');
    await page.press('#nick', 'Enter');
    await page.waitForSelector('#chat.nickname-set', { timeout: 5000 });

    // Following a busy chat: the page never holds more than MAX lines; the oldest go.
    await bob.say(MAX + 100);
    const last = MAX * 3 + 100;
    await page.waitForFunction((n) => document.querySelector('#lines').textContent.includes(`line ${n}`), last, { timeout: 30000 });
    let lines = await shown(page);
    const rows = await page.$$eval('#lines p.line', (els) => els.length);
    assert.ok(rows <= MAX, `at most ${MAX} lines in the DOM while following (${rows})`);
    assert.equal(lines[lines.length - 1], last, 'the newest line is shown');
    assert.ok(lines[0] > last - MAX, `the oldest lines went (first shown: ${lines[0]})`);
    const firstBefore = lines[0];
    console.log(`ok - following: ${rows} lines in the DOM, ${lines[0]}..${last}`);

    // Scrolling to the top: the page of lines before the first comes back from the history,
    // the newest go, and the line that was first stays where the reader saw it.
    const before = await page.$eval('#lines', (list) => list.scrollHeight);
    await page.hover('#lines');
    await page.mouse.wheel(0, -before); // as a reader would: all the way up

    await page.waitForFunction((n) => [...document.querySelectorAll('#lines p.user .text')]
      .some((e) => e.textContent === `line ${n}`), firstBefore - 1, { timeout: 10000 });
    lines = await shown(page);
    assert.ok(lines[0] < firstBefore, `older lines came back (first shown: ${lines[0]})`);
    assert.ok(lines.length <= MAX, `still at most ${MAX} (${lines.length})`);
    assert.ok(lines[lines.length - 1] < last, `the newest went to make room (last shown: ${lines[lines.length - 1]})`);
    assert.deepEqual(lines, lines.map((_, i) => lines[0] + i), 'in order, none missing or doubled');
    await page.waitForFunction(() => document.querySelector('#lines').scrollTop > 0, null, { timeout: 2000 }).catch(() => {});
    const kept = await page.evaluate((n) => {
      const list = document.querySelector('#lines');
      const line = [...list.querySelectorAll('p.user .text')].find((e) => e.textContent === `line ${n}`).parentElement;
      return { top: list.scrollTop, height: list.scrollHeight, lineTop: line.offsetTop - list.offsetTop };
    }, firstBefore);
    const view = await page.$eval('#lines', (list) => list.clientHeight);
    assert.ok(kept.top > 0 && kept.lineTop >= kept.top - 100 && kept.lineTop <= kept.top + view,
      `the reader's place is kept: line ${firstBefore} is still in view (${JSON.stringify(kept)}, view ${view})`);
    console.log(`ok - scrolled to the top: ${lines[0]}..${lines[lines.length - 1]} shown`);

    // A line said meanwhile is not added past the end, but counted on the jump button.
    await bob.say(1);
    // (The button may already show "↓ 0" while the page is away from the live end: wait for the count.)
    await page.waitForFunction(() => /^↓ [1-9]/.test(document.querySelector('#jump')?.textContent || ''), null, { timeout: 10000 });
    const jump = await page.textContent('#jump');
    assert.ok(Number(/^↓ (\d+)/.exec(jump)[1]) >= 1, jump);
    assert.ok(!(await shown(page)).includes(last + 1), 'not held while the reader is up there');

    // Jumping to the newest: the newest page, with the line said meanwhile at the end.
    await page.click('#jump');
    await untilLast(page, last + 1);
    lines = await shown(page);
    assert.ok(lines.length <= MAX, `at most ${MAX} after jumping (${lines.length})`);
    assert.deepEqual(lines, lines.map((_, i) => lines[0] + i), 'in order, none missing or doubled');
    await page.waitForFunction(() => !document.querySelector('#jump'), null, { timeout: 5000 });
    console.log(`ok - jumped to the newest: ${lines[0]}..${lines[lines.length - 1]}`);

    // Jumping to the newest and following a busy chat for thousands of lines: the page stays at
    // the live end (a wheel turned a moment before the jump used to count as the reader's, and
    // the flood took the page away from the newest lines), with at most MAX lines, and the
    // wasm's memory stays flat (it grows in 64 KiB pages and never shrinks): rows that went used
    // to stay in the clock's subscribers, ~220 bytes a line forever (docs/benchmarks.md, "A tab
    // left open"); a few pages of slack for the allocator's fragmentation.
    const wasmBytes = () => page.evaluate(() => window.__wasm.memory.buffer.byteLength);
    await bob.say(MAX * 2);
    await untilLast(page, bob.said(), 30000);
    const warm = await wasmBytes();
    const more = MAX * 8;
    await bob.say(more);
    await untilLast(page, bob.said(), 60000);
    const grew = (await wasmBytes()) - warm;
    const rowsNow = await page.$$eval('#lines p.line', (els) => els.length);
    assert.ok(rowsNow <= MAX, `at most ${MAX} lines in the DOM (${rowsNow})`);
    assert.equal(await page.$('#jump'), null, 'still at the live end');
    const WASM_GROWTH_MAX = 4 * 65536;
    assert.ok(grew <= WASM_GROWTH_MAX, `the wasm memory grew ${grew} bytes over ${more} lines (at most ${WASM_GROWTH_MAX}): memory kept per line`);
    console.log(`ok - followed ${MAX * 2 + more} more lines at the live end; over the last ${more} the wasm memory grew ${grew} bytes (${(grew / more).toFixed(0)} a line) from ${warm}`);
    assert.deepEqual(errors, []);
    bob.close();
  } catch (e) {
    failed = true;
    console.log(`not ok - ${e.stack || e}`);
    if (page) {
      const lines = await shown(page).catch(() => []);
      const rows = await page.$$eval('#lines p.line', (els) => els.map((p) => p.textContent)).catch(() => []);
      console.log(`the page shows ${lines.length} of the bot's lines: ${lines.slice(0, 3)} … ${lines.slice(-3)};`
        + ` ${rows.length} rows, the last: ${JSON.stringify(rows.slice(-3))};`
        + ` jump button: ${JSON.stringify(await page.textContent('#jump').catch(() => null))}`);
    }
  }
  await browser.close();
  server.kill('SIGTERM');
  console.log(failed ? 'window: failed' : 'window: all passed');
  process.exit(failed ? 1 : 0);
})().catch((e) => { console.error(e); process.exit(1); });
