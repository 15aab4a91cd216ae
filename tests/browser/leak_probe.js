// What the page's wasm memory keeps while it follows a busy chat (not a test: a probe, run by
// scripts/leak-probe.sh on a page built with the counting allocator, client/src/alloc_probe.rs).
// A bot says PER lines ROUNDS times; after each round the page's wasm memory and its live
// blocks by size are printed. With TRACE=MIN-MAX, the JS stacks of the live blocks of those
// sizes are printed at the end (a size class that grows with the lines, traced, names its code).
// With CHURN=1 in the environment, each round PER people come (named) and go instead, 20 at a
// time, each staying STAY ms (default 0), after a bot filled the window of lines. With SWITCH=1,
// each round the reader switches PER times between `general` (filled by the bot first) and a
// room, so that the lines view and what it reads are made and dropped PER times.
// Usage: node leak_probe.js <chat-server binary> <port> <probe page dir> <PER> <ROUNDS> [MIN-MAX]
'use strict';
const { startBusyServer, busyBot, untilLast } = require('./busy_chat');
const { chromium } = require('playwright-core');
const { io } = require('socket.io-client');

const [bin, port, pageDir, perArg, roundsArg, trace] = process.argv.slice(2);
const PER = Number(perArg);
const ROUNDS = Number(roundsArg);
const base = `http://127.0.0.1:${port}`;
setTimeout(() => { console.error('leak_probe: timed out'); process.exit(1); }, 900000).unref();

const startServer = () => startBusyServer(bin, port, { CHAT_PAGE_DIR: pageDir });

(async () => {
  const server = await startServer();
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  try {
    const bob = await busyBot(base, 'Bob');
    const say = (count) => bob.say(count);
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.addInitScript(() => { Error.stackTraceLimit = 60; });
    await page.addInitScript(() => addEventListener('TrunkApplicationStarted', (e) => { window.__wasm = e.detail.wasm; }));
    await page.goto(base);
    await page.waitForSelector('#chat.connected', { timeout: 10000 });
    await page.fill('#nick', 'Reader');
    await page.press('#nick', 'Enter');
    await page.waitForSelector('#chat.nickname-set', { timeout: 5000 });
    const followed = (n) => untilLast(page, n, 60000);
    if (trace) {
      const [min, max] = trace.split('-').map(Number);
      await page.evaluate(([min, max]) => window.wasmBindings.leak_probe_trace(min, max), [min, max]);
    }
    // CHURN=1: instead of lines, PER people come (named), then go, 20 at a time.
    let came = 0;
    const churn = async (count) => {
      for (let i = 0; i < count; i += 20) {
        await Promise.all(Array.from({ length: Math.min(20, count - i) }, async () => {
          came += 1;
          const guest = io(base, { transports: ['websocket'], reconnection: false, forceNew: true });
          await new Promise((ok, fail) => { guest.once('connect', ok); guest.once('connect_error', fail); });
          await guest.timeout(5000).emitWithAck('nickname', `guest${came}`);
          // Long enough for the page to show them (STAY ms, default 0: gone at once).
          await new Promise((r) => setTimeout(r, Number(process.env.STAY || 0)));
          guest.close();
        }));
      }
      // Until the page shows only the bot and the reader again.
      await page.waitForFunction(() => document.querySelectorAll('#nicknames b').length <= 2, null, { timeout: 30000 });
    };
    // Until the page shows `channel` open.
    const showing = (channel) => page.waitForFunction(
      (c) => document.querySelector('#channel-title').textContent === `# ${c}`, channel, { timeout: 10000 });
    // SWITCH=1: PER switches between general and the room `side` (joined above).
    const switches = async (count) => {
      for (let i = 0; i < count; i++) {
        const to = i % 2 === 0 ? 'side' : 'general';
        await page.evaluate((t) => { location.hash = `#/r/${t}`; }, to);
        await showing(to);
        // Not faster than a person could: each switch asks for a page of history, and a
        // connection refused 200 times in 10 s for its rate is closed as a flooder.
        await new Promise((r) => setTimeout(r, 150));
      }
      await showing('general');
      await new Promise((r) => setTimeout(r, 500)); // the last history page in
    };
    // Churning: the window of lines filled first, so that the announcements of the comings and
    // goings take the place of older lines instead of adding to the page's memory.
    if (process.env.CHURN || process.env.SWITCH) {
      await say(600);
      await followed(bob.said());
    }
    if (process.env.SWITCH) {
      await page.fill('#room-name', 'side');
      await page.press('#room-name', 'Enter');
      await showing('side');
    }
    for (let r = 0; r < ROUNDS; r++) {
      if (process.env.CHURN) {
        await churn(PER);
      } else if (process.env.SWITCH) {
        await switches(PER);
      } else {
        await say(PER);
        await followed(bob.said());
      }
      const [wasm, live] = await page.evaluate(() => [window.__wasm.memory.buffer.byteLength, window.wasmBindings.leak_probe()]);
      console.log(`after ${process.env.SWITCH ? `${(r + 1) * PER} switches` : process.env.CHURN ? `${came} visitors` : `${bob.said()} lines`}: wasm memory ${wasm} bytes; live ${live}`);
    }
    if (trace) console.log(await page.evaluate(() => window.wasmBindings.leak_probe_stacks()));
    bob.close();
  } catch (e) {
    console.log(`leak_probe: ${e.stack || e}`);
    process.exitCode = 1;
  }
  await browser.close();
  server.kill('SIGTERM');
})();
