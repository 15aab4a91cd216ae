// Browser end-to-end tests: the real built page served by the real chat-server, in Debian's
// headless Chromium driven by playwright-core. Usage: node e2e.js <chat-server binary> <port>
// (this script starts, stops and restarts the server itself). Exits 0 when all pass.
'use strict';
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const { chromium } = require('playwright-core');

const [bin, port] = process.argv.slice(2);
const base = `http://127.0.0.1:${port}`;
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
setTimeout(() => { console.error('e2e: timed out'); process.exit(1); }, 120000).unref();

let server;
async function startServer() {
  server = spawn(bin, [], { env: { ...process.env, PORT: port, CHAT_BIND: '127.0.0.1', CHAT_LOG: process.env.CHAT_TEST_LOG || 'warn' }, stdio: 'inherit' });
  for (let i = 0; i < 200; i++) {
    try { if ((await fetch(`${base}/healthz`)).ok) return; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('server did not start');
}
async function stopServer() {
  const exited = new Promise((r) => server.once('exit', r));
  server.kill('SIGTERM');
  await exited;
}

async function open(browser, path = '/', viewport = { width: 1280, height: 800 }) {
  const page = await browser.newPage({ viewport });
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.on('dialog', (d) => { page.errors.push(`dialog: ${d.message()}`); d.dismiss(); });
  await page.goto(base + path);
  await page.waitForSelector('#chat.connected', { timeout: 10000 });
  return page;
}
async function join(page, nick) {
  await page.fill('#nick', nick);
  await page.press('#nick', 'Enter');
  await page.waitForSelector('#chat.nickname-set', { timeout: 5000 });
}
async function say(page, text) {
  await page.fill('#message', text);
  await page.press('#message', 'Enter');
}
const lineWith = (page, text) => page.waitForFunction(
  (t) => [...document.querySelectorAll('#lines p')].some((p) => p.textContent.includes(t)), text, { timeout: 10000 });

const tests = {
  async 'two users chat both ways, in any script'(browser) {
    const ana = await open(browser);
    const bob = await open(browser, '/', { width: 390, height: 844 });
    await join(ana, 'Ana');
    await join(bob, 'Bob');
    await lineWith(ana, 'Bob connected');
    await say(ana, 'Hallo, wereld — één');
    await lineWith(ana, 'Hallo, wereld — één'); // one's own line shows at once
    await lineWith(bob, 'Hallo, wereld — één');
    await say(bob, '안녕하세요 👋');
    await lineWith(ana, '안녕하세요 👋');
    const from = await ana.$eval('#lines p.user:last-child .from', (b) => b.textContent);
    assert.equal(from, 'Bob');
    assert.equal(await ana.$eval('#message', (i) => i.value), '', 'input cleared after sending');
    await ana.waitForFunction(() => document.querySelector('#nicknames').textContent.includes('Bob'));
    await ana.close();
    await lineWith(bob, 'Ana disconnected'); // closing a page announces it
    assert.deepEqual([...ana.errors, ...bob.errors], []);
    await bob.close();
  },

  async 'a taken or invalid nickname says why'(browser) {
    const a = await open(browser);
    await join(a, 'Taken');
    const b = await open(browser);
    await b.fill('#nick', 'TAKEN');
    await b.press('#nick', 'Enter');
    await b.waitForSelector('#nickname-err.visible');
    assert.equal(await b.textContent('#nickname-err'), 'Nickname already in use');
    await b.fill('#nick', 'x'.repeat(40)); // refused by the page before sending
    await b.press('#nick', 'Enter');
    await b.waitForFunction(() => document.querySelector('#nickname-err').textContent === 'That nickname is too long');
    assert.ok(await b.$('#nick-hint.over'), 'the length hint turns red');
    assert.equal(await b.$('#chat.nickname-set'), null);
    await a.close(); await b.close();
  },

  async 'names and messages are text, never HTML'(browser) {
    const evil = '<img src=x onerror="window.__pwned=1">';
    const evilName = '<img src=x onerror=alert(1)>'; // fits in 32 chars; an alert would be caught
    const a = await open(browser);
    await join(a, evilName);
    const b = await open(browser);
    await join(b, 'Reader');
    await say(a, evil);
    await lineWith(b, evil);
    const counts = await b.evaluate(() => ({
      pwned: window.__pwned === 1,
      imgs: document.querySelectorAll('#lines img, #nicknames img').length,
    }));
    assert.deepEqual(counts, { pwned: false, imgs: 0 });
    const shown = await b.$eval('#lines p.user:last-child', (p) => p.textContent);
    assert.ok(shown.includes(evil) && shown.includes(evilName), shown);
    assert.deepEqual([...a.errors, ...b.errors], [], 'no script ran, no dialog opened');
    await a.close(); await b.close();
  },

  async 'a page forced onto long-polling chats'(browser) {
    const poll = await open(browser, '/?transport=polling');
    let sockets = 0;
    poll.on('websocket', () => { sockets += 1; });
    await join(poll, 'Poller');
    const ws = await open(browser);
    await join(ws, 'Socketeer');
    await say(ws, 'to the poller');
    await lineWith(poll, 'to the poller');
    await say(poll, 'from the poller');
    await lineWith(ws, 'from the poller');
    assert.equal(sockets, 0, 'no WebSocket opened');
    await poll.close(); await ws.close();
  },

  async 'a server restart: the goodbye, reconnected, nickname re-claimed, chatting again'(browser) {
    const a = await open(browser);
    await join(a, 'Phoenix');
    await say(a, 'before the restart');
    await stopServer(); // SIGTERM: the server says it is going away
    await lineWith(a, 'The server is restarting: reconnecting in a moment');
    await startServer();
    await lineWith(a, 'Reconnected to the server');
    assert.ok(await a.$('#chat.nickname-set'), 'still named');
    const b = await open(browser);
    await b.fill('#nick', 'phoenix');
    await b.press('#nick', 'Enter');
    await b.waitForSelector('#nickname-err.visible'); // re-claimed: taken again
    await join(b, 'Witness');
    await say(a, 'after the restart');
    await lineWith(b, 'after the restart');
    const lines = await a.$$eval('#lines p', (ps) => ps.map((p) => p.textContent));
    assert.ok(lines.some((l) => l.includes('before the restart')), 'lines kept across the reconnect');
    await a.close(); await b.close();
  },

  async 'a reload shows the history and keeps the nickname'(browser) {
    const a = await open(browser);
    await join(a, 'Historian');
    await say(a, 'remember me');
    const b = await open(browser);
    await join(b, 'Listener');
    await lineWith(b, 'remember me'); // said before Listener came: from the history
    await say(b, 'and me');
    await lineWith(a, 'and me');
    await a.reload();
    await a.waitForSelector('#chat.connected');
    await a.waitForSelector('#chat.nickname-set', { timeout: 5000 });
    await lineWith(a, 'remember me');
    await lineWith(a, 'and me');
    const count = (t) => a.$$eval('#lines p', (ps, t) => ps.filter((p) => p.textContent.includes(t)).length, t);
    assert.equal(await count('remember me'), 1);
    assert.equal(await count('and me'), 1);
    await a.close(); await b.close();
  },

  async 'lines typed while the server is down arrive once, in order, after it is back'(browser) {
    const a = await open(browser);
    await join(a, 'Writer');
    const b = await open(browser);
    await join(b, 'Reader2');
    await say(a, 'before the outage');
    await lineWith(b, 'before the outage');
    await stopServer();
    await lineWith(a, 'The server is restarting: reconnecting in a moment');
    for (const n of [1, 2, 3]) await say(a, `queued ${n}`);
    assert.equal(await a.$$eval('#lines p.pending', (ps) => ps.length), 3, 'shown as pending');
    await startServer();
    await lineWith(b, 'queued 3');
    await a.waitForFunction(() => document.querySelectorAll('#lines p.pending').length === 0, null, { timeout: 10000 });
    const seen = await b.$$eval('#lines p.user .text', (ps) => ps.map((p) => p.textContent));
    const queued = seen.filter((t) => t.startsWith('queued'));
    assert.deepEqual(queued, ['queued 1', 'queued 2', 'queued 3'], 'once each, in order');
    assert.equal(seen.filter((t) => t === 'before the outage').length, 1, 'nothing doubled by the resume');
    await a.close(); await b.close();
  },
};

(async () => {
  await startServer();
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  let passed = 0; let failed = 0;
  for (const [name, test] of Object.entries(tests)) {
    try {
      await test(browser);
      passed += 1;
      console.log(`ok - ${name}`);
    } catch (e) {
      failed += 1;
      console.log(`not ok - ${name}\n${e.stack || e}`);
    }
  }
  await browser.close();
  await stopServer();
  console.log(`browser e2e: ${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
})().catch((e) => { console.error(e); process.exit(1); });
