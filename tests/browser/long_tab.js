// A benchmark, not a test: a tab left open during a busy chat. One headless Chromium page,
// named, following the newest line, while a socket.io client says `rate` lines a second for
// `minutes`; every 30 s it records the page's JS heap (after a garbage collection), its DOM size
// (elements) and how long the page takes to answer (a round trip into the page, and the longest
// task seen). Usage: node long_tab.js <chat-server binary> <port> [minutes=10] [rate=100]
// [page dir]. The server runs with message limits lifted and durable history off; `page dir`
// serves another build of the page (e.g. an older one) with --page-dir.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { io } = require('socket.io-client');

const [bin, port, minutesArg, rateArg, pageDir] = process.argv.slice(2);
const minutes = Number(minutesArg || 10);
const rate = Number(rateArg || 100);
const base = `http://127.0.0.1:${port}`;
setTimeout(() => { console.error('long_tab: timed out'); process.exit(1); }, (minutes * 60 + 120) * 1000).unref();

(async () => {
  const env = {
    ...process.env, PORT: port, CHAT_BIND: '127.0.0.1', CHAT_LOG: 'warn', CHAT_HISTORY_SYNC: 'off',
    CHAT_MESSAGE_BURST: '100000', CHAT_MESSAGES_PER_SECOND: '100000', CHAT_MAX_CONNECTIONS_PER_ADDRESS: '0',
    CHAT_HISTORY_MAX_MESSAGES: '100000', CHAT_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'long-tab-')),
    ...(pageDir ? { CHAT_PAGE_DIR: pageDir } : {}),
  };
  const server = spawn(bin, [], { env, stdio: 'inherit' });
  for (let i = 0; i < 200; i++) {
    try { if ((await fetch(`${base}/healthz`)).ok) break; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.addInitScript(() => {
    // trunk announces the started wasm (its exports, with its memory).
    addEventListener('TrunkApplicationStarted', (e) => { window.__wasm = e.detail && e.detail.wasm; });
    window.__longest = 0;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__longest = Math.max(window.__longest, e.duration);
    }).observe({ type: 'longtask', buffered: true });
  });
  const cdp = await page.context().newCDPSession(page);
  await page.goto(base);
  await page.waitForSelector('#chat.connected');
  await page.fill('#nick', 'Reader');
  await page.press('#nick', 'Enter');
  await page.waitForSelector('#chat.nickname-set');

  const bot = io(base, { transports: ['websocket'] });
  await new Promise((r) => bot.once('connect', r));
  await bot.emitWithAck('nickname', 'Busy');
  let said = 0;
  const ticker = setInterval(() => {
    for (let i = 0; i < rate / 10; i++) { said += 1; bot.emit('user message', `line ${said} ${'lorem ipsum '.repeat(4)}`); }
  }, 100);

  const samples = [];
  const started = Date.now();
  const sample = async () => {
    await cdp.send('HeapProfiler.collectGarbage');
    const heap = await cdp.send('Runtime.getHeapUsage');
    const t0 = Date.now();
    const dom = await page.evaluate(() => ({ elements: document.getElementsByTagName('*').length,
      lines: document.querySelectorAll('#lines p.line').length, longest: Math.round(window.__longest),
      wasm_mb: window.__wasm && window.__wasm.memory ? +(window.__wasm.memory.buffer.byteLength / 1048576).toFixed(1) : null }));
    const roundTrip = Date.now() - t0;
    await page.evaluate(() => { window.__longest = 0; });
    const s = { at_s: Math.round((Date.now() - started) / 1000), said, heap_mb: +(heap.usedSize / 1048576).toFixed(1), wasm_mb: dom.wasm_mb,
      elements: dom.elements, lines: dom.lines, round_trip_ms: roundTrip, longest_task_ms: dom.longest };
    samples.push(s);
    console.log(JSON.stringify(s));
  };
  await sample();
  while (Date.now() - started < minutes * 60000) {
    await new Promise((r) => setTimeout(r, 30000));
    await sample();
  }
  clearInterval(ticker);
  bot.close();
  await browser.close();
  server.kill('SIGTERM');
  const last = samples[samples.length - 1];
  const second = samples[Math.min(2, samples.length - 1)];
  console.log(JSON.stringify({ minutes, rate, said, heap_mb_at_1min: second.heap_mb, heap_mb_at_end: last.heap_mb,
    elements_at_1min: second.elements, elements_at_end: last.elements,
    worst_round_trip_ms: Math.max(...samples.map((s) => s.round_trip_ms)),
    worst_longest_task_ms: Math.max(...samples.map((s) => s.longest_task_ms)) }));
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
