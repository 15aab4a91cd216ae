// The core flows of the page in Debian's Firefox ESR, driven over WebDriver BiDi by
// puppeteer-core (which downloads no browser): connect, choose a nickname (a taken one is
// refused), chat both ways between two Firefox pages and with the official socket.io JS client,
// a server restart (the page reconnects, keeps its nickname, and a line typed while the server
// was down arrives once), and a page forced onto long-polling.
// Usage: node firefox.js <chat-server binary> <port> (this script starts, stops and restarts
// the server itself, as e2e.js does). Exits 0 when all pass.
//
// Firefox in a container, as found on this machine (firefox-esr 153, run as root, no display):
// - puppeteer passes `--headless`, so MOZ_HEADLESS=1 is not needed (it does no harm).
// - HOME must be a writable directory: Firefox writes ~/.cache, ~/.config and ~/Downloads, and
//   with an unwritable HOME it hangs before its BiDi endpoint listens (puppeteer then times out
//   after 30 s with "Timed out ... waiting for the WS endpoint URL"). tests/tests/firefox.rs
//   gives it a fresh temporary HOME. The profile itself is a fresh temporary directory that
//   puppeteer creates under TMPDIR and removes on close.
// - No sandbox switch is needed (Firefox's content sandbox starts in this container); the
//   "RenderCompositorSWGL failed mapping default framebuffer" and Remote Settings sync errors
//   it prints with dumpio are harmless (no GPU, no network).
'use strict';
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const puppeteer = require('puppeteer-core');
const { io } = require('socket.io-client');

const [bin, port] = process.argv.slice(2);
const base = `http://127.0.0.1:${port}`;
setTimeout(() => { console.error('firefox: timed out'); process.exit(1); }, 120000).unref();
const T = { timeout: 10000 };

let server;
async function startServer() {
  server = spawn(bin, [], { env: { ...process.env, PORT: port, CHAT_BIND: '127.0.0.1', CHAT_LOG: process.env.CHAT_TEST_LOG || 'warn' }, stdio: 'inherit' });
  for (let i = 0; i < 200; i++) {
    try { if ((await fetch(`${base}/healthz`)).ok) return; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('server did not start');
}
async function stopServer(signal = 'SIGTERM') {
  const exited = new Promise((r) => server.once('exit', r));
  server.kill(signal);
  await exited;
}

// A page whose WebSocket constructions are counted (window.__websockets): the wasm glue looks
// the global `WebSocket` up when it opens one, so a wrapper sees every socket the page opens.
async function open(browser, at = '/') {
  // Each page in a context of its own: another person's browser (the page keeps its owned
  // nickname in localStorage, which one context's tabs share: they are one person).
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  const closePage = page.close.bind(page);
  page.close = async () => { await closePage(); await context.close(); };
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.on('dialog', (d) => { page.errors.push(`dialog: ${d.message()}`); d.dismiss(); });
  await page.evaluateOnNewDocument(() => {
    const Real = window.WebSocket;
    window.__websockets = 0;
    window.WebSocket = new Proxy(Real, { construct(target, args) { window.__websockets += 1; return new target(...args); } });
  });
  await page.goto(base + at);
  await page.waitForSelector('#chat.connected', T);
  return page;
}
// Types `text` key by key, except characters outside the BMP (emoji): Firefox's BiDi key
// actions deliver those as two input events, the first with a lone high surrogate in the
// field's value, and the composer's `prop:value` writes that back as U+FFFD (a Rust String
// cannot hold a lone surrogate), so "👋" became "��". A keyboard or an emoji picker inserts
// the pair at once, which sendCharacter does (one input event).
async function fill(page, selector, text) {
  await page.$eval(selector, (el) => { el.value = ''; el.dispatchEvent(new Event('input', { bubbles: true })); });
  await page.focus(selector);
  for (const ch of text) {
    if (ch.length > 1) await page.keyboard.sendCharacter(ch);
    else await page.keyboard.type(ch);
  }
}
async function enter(page, selector, text) {
  await fill(page, selector, text);
  await page.keyboard.press('Enter');
}
async function join(page, nick) {
  await enter(page, '#nick', nick);
  await page.waitForSelector('#chat.nickname-set', T);
}
const say = (page, text) => enter(page, '#message', text);
// Waits until `check` (run in the page, with `arg`) is true. Polled from here rather than with
// page.waitForFunction: that one polls inside the page (requestAnimationFrame or timers), which
// Firefox throttles in a tab that is not the front one, so it timed out on a background page
// that already showed what it waited for.
async function until(page, check, arg, what = String(arg ?? check)) {
  const deadline = Date.now() + T.timeout;
  while (!(await page.evaluate(check, arg))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const lineWith = (page, text) => until(
  page, (t) => [...document.querySelectorAll('#lines p')].some((p) => p.textContent.includes(t)), text, `a line with "${text}"`);
const userLines = (page) => page.$$eval('#lines p.user', (ps) => ps.map((p) => [p.querySelector('.from')?.textContent, p.querySelector('.text')?.textContent]));
const online = (page) => page.$eval('#nicknames', (n) => n.textContent);

// The official socket.io JS client speaking the original event API.
function jsClient() {
  const socket = io(base, { transports: ['websocket'], reconnection: false, forceNew: true });
  const lines = [];
  socket.on('user message', (from, msg) => lines.push([from, msg]));
  const nickname = (nick) => new Promise((resolve) => socket.emit('nickname', nick, (taken) => resolve(taken)));
  const until = (what, check) => new Promise((resolve, reject) => {
    const t = setInterval(() => { if (check()) { clearInterval(t); clearTimeout(d); resolve(); } }, 10);
    const d = setTimeout(() => { clearInterval(t); reject(new Error(`the JS client never saw ${what}`)); }, 10000);
  });
  return { socket, lines, nickname, until };
}

const tests = {
  async 'two Firefox pages connect, are named and chat both ways'(browser) {
    const ana = await open(browser);
    const bob = await open(browser);
    await join(ana, 'FoxAna');
    await join(bob, 'FoxBob');
    await lineWith(ana, 'FoxBob connected');
    await until(ana, () => document.querySelector('#nicknames').textContent.includes('FoxBob'), undefined, 'FoxBob online');
    assert.ok((await online(bob)).includes('FoxAna'), 'each sees the other online');
    await say(ana, 'from Firefox Ana — één 👋');
    await lineWith(bob, 'from Firefox Ana — één 👋');
    await say(bob, '안녕하세요 from Bob');
    await lineWith(ana, '안녕하세요 from Bob');
    assert.deepEqual((await userLines(ana)).filter(([f]) => f === 'FoxBob'), [['FoxBob', '안녕하세요 from Bob']]);
    assert.deepEqual((await userLines(bob)).filter(([f]) => f === 'FoxAna'), [['FoxAna', 'from Firefox Ana — één 👋']]);
    assert.equal(await ana.$eval('#message', (i) => i.value), '', 'input cleared after sending');
    assert.ok(await ana.evaluate(() => window.__websockets) >= 1, 'the page chats over a WebSocket');
    await ana.close();
    await lineWith(bob, 'FoxAna disconnected');
    assert.deepEqual([...ana.errors, ...bob.errors], []);
    await bob.close();
  },

  async 'a taken nickname is refused, and the page says why'(browser) {
    const first = await open(browser);
    await join(first, 'FoxTaken');
    const second = await open(browser);
    await enter(second, '#nick', 'foxtaken'); // the same key, another case
    await second.waitForSelector('#nickname-err.visible', T);
    // The page owns what it claims: the other page is told whose it is.
    assert.equal(await second.$eval('#nickname-err', (e) => e.textContent), 'That nickname belongs to someone else');
    assert.equal(await second.$('#chat.nickname-set'), null, 'not named');
    await join(second, 'FoxFree');
    await lineWith(first, 'FoxFree connected');
    assert.ok(!(await first.$eval('#lines', (l) => l.textContent)).includes('foxtaken connected'));
    await first.close(); await second.close();
  },

  async 'a Firefox page and the socket.io JS client chat both ways'(browser) {
    const page = await open(browser);
    await join(page, 'FoxPage');
    const js = jsClient();
    assert.equal(await js.nickname('foxpage'), true, 'the page\'s nickname is taken for the JS client too');
    assert.equal(await js.nickname('NodeClient'), false);
    await lineWith(page, 'NodeClient connected');
    js.socket.emit('user message', 'from node');
    await lineWith(page, 'from node');
    assert.deepEqual((await userLines(page)).filter(([f]) => f === 'NodeClient'), [['NodeClient', 'from node']]);
    await say(page, 'from firefox');
    await js.until('the page\'s line', () => js.lines.some(([f, m]) => f === 'FoxPage' && m === 'from firefox'));
    js.socket.disconnect();
    await lineWith(page, 'NodeClient disconnected');
    assert.deepEqual(page.errors, []);
    await page.close();
  },

  async 'a page forced onto long-polling chats and opens no WebSocket'(browser) {
    const poll = await open(browser, '/?transport=polling');
    await join(poll, 'FoxPoller');
    const js = jsClient();
    assert.equal(await js.nickname('FoxListener'), false);
    await say(poll, 'polled line');
    await js.until('the polling page\'s line', () => js.lines.some(([f, m]) => f === 'FoxPoller' && m === 'polled line'));
    js.socket.emit('user message', 'to the poller');
    await lineWith(poll, 'to the poller');
    assert.equal(await poll.evaluate(() => window.__websockets), 0, 'no WebSocket opened');
    js.socket.disconnect();
    assert.deepEqual(poll.errors, []);
    await poll.close();
  },

  async 'a server restart: the page reconnects, keeps its nickname, a line sent meanwhile arrives once'(browser) {
    const a = await open(browser);
    await join(a, 'FoxPhoenix');
    const b = await open(browser);
    await join(b, 'FoxWitness');
    await say(a, 'before the restart');
    await lineWith(b, 'before the restart');
    await stopServer('SIGKILL'); // the connection drops: no goodbye
    await lineWith(a, 'Attempting to re-connect to the server');
    await say(a, 'sent while down');
    assert.equal(await a.$$eval('#lines p.pending', (ps) => ps.length), 1, 'shown as pending');
    await startServer();
    await lineWith(b, 'sent while down');
    await lineWith(a, 'Reconnected to the server');
    await until(a, () => document.querySelectorAll('#lines p.pending').length === 0, undefined, 'nothing pending');
    assert.ok(await a.$('#chat.nickname-set'), 'still named');
    const seen = (await userLines(b)).filter(([f]) => f === 'FoxPhoenix').map(([, t]) => t);
    assert.deepEqual(seen, ['before the restart', 'sent while down'], 'once each, in order, from the same nickname');
    // The server gave the nickname back to the page, not just the page's own display.
    const c = await open(browser);
    await enter(c, '#nick', 'FoxPhoenix');
    await c.waitForSelector('#nickname-err.visible', T);
    await say(b, 'after the restart');
    await lineWith(a, 'after the restart');
    // Firefox reports each reconnect attempt that finds the server down as a page error; those
    // are the outage itself, not the page's.
    const outage = /can.t establish a connection to the server/;
    assert.deepEqual([...a.errors, ...b.errors, ...c.errors].filter((e) => !outage.test(e)), []);
    await a.close(); await b.close(); await c.close();
  },
};

(async () => {
  await startServer();
  const started = Date.now();
  const browser = await puppeteer.launch({
    browser: 'firefox',
    protocol: 'webDriverBiDi',
    executablePath: process.env.FIREFOX || '/usr/bin/firefox-esr',
    headless: true,
  });
  console.log(`${await browser.version()} started in ${Date.now() - started} ms`);
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
  console.log(`firefox: ${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
})().catch((e) => { console.error(e); process.exit(1); });
