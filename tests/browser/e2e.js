// Browser end-to-end tests: the real built page served by the real chat-server, in Debian's
// headless Chromium driven by playwright-core. Usage: node e2e.js <chat-server binary> <port>
// (this script starts, stops and restarts the server itself). Exits 0 when all pass.
'use strict';
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');

const [bin, port] = process.argv.slice(2);
const base = `http://127.0.0.1:${port}`;
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
setTimeout(() => { console.error('e2e: timed out'); process.exit(1); }, 300000).unref();

// Every page here comes from 127.0.0.1: a run may create at most ADDRESS_NEW_OWNERS_BURST (50)
// owned nicknames before further claims are granted ephemeral (see the pages' `join`s).
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

async function open(browser, at = '/', viewport = { width: 1280, height: 800 }, options = {}) {
  return visit(await browser.newPage({ viewport, ...options }), at);
}
// Opens the page in `page` (e.g. a new tab of a context that was open before: the same browser).
async function visit(page, at = '/') {
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.on('dialog', (d) => { page.errors.push(`dialog: ${d.message()}`); d.dismiss(); });
  await page.goto(base + at);
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
async function setHidden(page, hidden) {
  await page.evaluate((h) => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}
const AXE = require.resolve('axe-core/axe.min.js');
async function audit(page, what) {
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  assert.ok(result.passes.length > 20, `the audit ran (${result.passes.length} rules passed)`);
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`), [], what);
}
async function waitFor(check, what, ms = 10000) {
  for (const until = Date.now() + ms; Date.now() < until; await new Promise((r) => setTimeout(r, 20))) {
    if (check()) return;
  }
  throw new Error(`never saw ${what}`);
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

  async 'the page sends back the receipt of every bulky answer, and keeps getting them'(browser) {
    // A bulky answer's ack is `43<id>[null,<value>,<receipt>]`; its receipt goes back as
    // `42["received",<receipt>]`. The server answers at most 8 whose receipts have not come back.
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const got = new Set();
    const sent = new Set();
    page.on('websocket', (ws) => {
      ws.on('framereceived', ({ payload }) => {
        const ack = /^43\d+(\[.*\])$/s.exec(String(payload));
        const args = ack && JSON.parse(ack[1]);
        if (args && args.length === 3 && args[0] === null) got.add(args[2]);
      });
      ws.on('framesent', ({ payload }) => {
        const m = /^42\["received",(\d+)\]$/.exec(String(payload));
        if (m) sent.add(Number(m[1]));
      });
    });
    await visit(page);
    await join(page, 'Receiver');
    await say(page, 'said before the switches');
    await page.fill('#room-name', 'Receipts');
    await page.press('#room-name', 'Enter');
    await page.waitForFunction(() => document.querySelector('#channel-title').textContent === '# receipts');
    // Every switch asks for the channel's history (and a room's people): past 8 bulky answers
    // in all, within the history rate (a burst of 10 with `about`, then 2/s: hence the pauses).
    for (let i = 0; i < 2; i++) {
      await page.waitForTimeout(1000);
      await page.click('#channels a[href="#/r/general"]');
      await lineWith(page, 'said before the switches');
      await page.click('#channels a[href="#/r/receipts"]');
      await page.waitForFunction(() => document.querySelector('#channel-title').textContent === '# receipts');
    }
    await page.waitForTimeout(1000);
    await page.click('#channels a[href="#/r/general"]');
    await lineWith(page, 'said before the switches');
    await waitFor(() => got.size > 8 && [...got].every((r) => sent.has(r)),
      `every receipt sent back (${got.size} got, ${sent.size} sent)`);
    assert.ok([...sent].every((r) => got.has(r)), 'only receipts the server gave');
    assert.deepEqual(page.errors, []);
    await page.close();
  },

  async 'the first screen says what this is, how many are here, and joins with a visible button'(browser) {
    const here = await open(browser);
    await join(here, 'Already');
    const page = await open(browser, '/', { width: 390, height: 844 });
    assert.equal(await page.textContent('#chat-name'), 'Chat');
    assert.equal(await page.textContent('#chat-about'), 'Pick a nickname and talk with everyone who is here.');
    await page.waitForFunction(() => /^\d+ online now$/.test(document.querySelector('#online-count').textContent));
    const count = Number((await page.textContent('#online-count')).split(' ')[0]);
    assert.ok(count >= 1, `someone is here: ${count}`);
    assert.ok(await page.isVisible('#join'), 'a button beside the field, for a phone without Enter');
    // The field has the focus: typing a name is the first thing to do.
    await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'nick', null, { timeout: 5000 });
    await page.fill('#nick', 'Tapper');
    await page.click('#join');
    await page.waitForSelector('#chat.nickname-set', { timeout: 5000 });
    assert.deepEqual([...here.errors, ...page.errors], []);
    await here.close(); await page.close();
  },

  async 'a taken or invalid nickname says why'(browser) {
    const a = await open(browser);
    await join(a, 'Taken');
    const b = await open(browser);
    await b.fill('#nick', 'TAKEN');
    await b.press('#nick', 'Enter');
    await b.waitForSelector('#nickname-err.visible');
    // The page owns the nicknames it claims: another page is told whose it is.
    assert.equal(await b.textContent('#nickname-err'), 'That nickname belongs to someone else');
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
  async 'typing shows on the other page, and clears on send and when idle'(browser) {
    const ana = await open(browser);
    const bob = await open(browser);
    await join(ana, 'Ann');
    await join(bob, 'Ben');
    await ana.type('#message', 'hello th', { delay: 30 });
    await bob.waitForFunction(() => document.querySelector('#typing').textContent === 'Ann is typing…');
    assert.equal(await ana.textContent('#typing'), '', 'never shown for oneself');
    await ana.type('#message', 'ere');
    await ana.press('#message', 'Enter');
    await lineWith(bob, 'hello there');
    assert.equal(await bob.textContent('#typing'), '', 'cleared by the line itself');
    await bob.type('#message', 'and you', { delay: 30 }); // the other way round
    await ana.waitForFunction(() => document.querySelector('#typing').textContent === 'Ben is typing…');
    await bob.fill('#message', '');
    await ana.type('#message', 'and', { delay: 30 });
    await bob.waitForFunction(() => document.querySelector('#typing').textContent === 'Ann is typing…');
    const since = Date.now();
    await bob.waitForFunction(() => document.querySelector('#typing').textContent === '', null, { timeout: 5000 });
    assert.ok(Date.now() - since >= 1000, 'cleared after the idle time, not at once');
    await ana.close(); await bob.close();
  },

  async 'a tab whose nickname another tab resumed says so and stops speaking as it'(browser) {
    const first = await open(browser);
    await join(first, 'Twin');
    const reader = await open(browser);
    await join(reader, 'Watcher');
    // A duplicated tab: it starts with a copy of the first tab's sessionStorage (its token).
    const saved = await first.evaluate(() => sessionStorage.getItem('chat.session'));
    assert.ok(saved && saved.includes('Twin'), 'the first tab keeps its session');
    const second = await browser.newPage();
    second.errors = [];
    second.on('pageerror', (e) => second.errors.push(e.message));
    await second.addInitScript((s) => {
      if (!sessionStorage.getItem('chat.session')) sessionStorage.setItem('chat.session', s);
    }, saved);
    await second.goto(base + '/');
    await second.waitForSelector('#chat.nickname-set', { timeout: 10000 });
    // The first tab is told, shows the nickname form with the reason, and forgets the token.
    await first.waitForFunction(() => document.body.textContent.includes('You are signed in from another tab'), null, { timeout: 5000 });
    await first.waitForSelector('#nick', { state: 'visible' });
    assert.equal(await first.evaluate(() => sessionStorage.getItem('chat.session')), null);
    await say(second, 'from the second tab');
    await lineWith(reader, 'from the second tab');
    assert.deepEqual([...first.errors, ...second.errors], []);
    await first.close(); await second.close(); await reader.close();
  },

  async 'an owned nickname comes back on the next visit, is nobody else\'s, and forget me frees it'(browser) {
    // One browser (one context: its localStorage), two visits.
    const mine = await browser.newContext();
    // (Without the shared `visit`'s dialog handler: this test answers the confirmation.)
    const visitMine = async () => {
      const page = await mine.newPage();
      page.errors = [];
      page.on('pageerror', (e) => page.errors.push(e.message));
      await page.goto(base + '/');
      await page.waitForSelector('#chat.connected', { timeout: 10000 });
      return page;
    };
    const first = await visitMine();
    await join(first, 'Keeper');
    const kept = await first.evaluate(() => localStorage.getItem('chat.owner'));
    assert.ok(kept && kept.includes('Keeper') && kept.includes('owner_secret'), `the browser keeps it: ${kept}`);
    await first.close();
    // The next visit is Keeper at once, without typing.
    const next = await visitMine();
    await next.waitForSelector('#chat.nickname-set', { timeout: 5000 });
    // Another browser cannot have it, and is told why.
    const stranger = await open(browser);
    await stranger.fill('#nick', 'keeper');
    await stranger.press('#nick', 'Enter');
    await stranger.waitForFunction(() => document.querySelector('#nickname-err').textContent.includes('belongs to someone else'));
    // Forget me (confirmed): the page asks for a nickname again, and the name is free.
    next.once('dialog', (d) => d.accept());
    await next.click('#forget-me');
    await next.waitForSelector('#nick', { state: 'visible' });
    assert.equal(await next.evaluate(() => localStorage.getItem('chat.owner')), null);
    await join(stranger, 'Keeper');
    assert.deepEqual([...next.errors, ...stranger.errors], []);
    await next.close(); await stranger.close(); await mine.close();
  },

  async 'the title counts unread lines while the tab is hidden'(browser) {
    const ana = await open(browser);
    const bob = await open(browser);
    await join(ana, 'Teller');
    await join(bob, 'Away');
    await setHidden(bob, true);
    await say(ana, 'one');
    await say(ana, 'two');
    await bob.waitForFunction(() => document.title === '(2) Chat');
    await setHidden(bob, false);
    await bob.waitForFunction(() => document.title === 'Chat');
    await ana.close(); await bob.close();
  },

  async 'the page joins on the WebSocket index.html opened while its code loaded'(browser) {
    // Every WebSocket the page creates, and whether the wasm created it (its stack says so).
    const record = () => {
      window.__sockets = [];
      const Native = window.WebSocket;
      window.WebSocket = class extends Native {
        constructor(...args) {
          super(...args);
          window.__sockets.push({ socket: this, fromWasm: /wasm/.test(new Error().stack) });
        }
      };
    };
    const sockets = (page) => page.evaluate(() => ({
      early: typeof window.__chatEarlySocket,
      made: window.__sockets.map((s) => ({ fromWasm: s.fromWasm, open: s.socket.readyState === 1 })),
    }));
    const page = await browser.newPage();
    await page.addInitScript(record);
    await visit(page);
    await join(page, 'Early');
    // One WebSocket, index.html's (the CSP allows its script), taken over by the page: the
    // wasm opened none of its own. Without the script, or without the takeover, there are others.
    assert.deepEqual(await sockets(page), { early: 'undefined', made: [{ fromWasm: false, open: true }] });
    // Long-polling asked for: no WebSocket at all.
    const poll = await browser.newPage();
    await poll.addInitScript(record);
    await visit(poll, '/?transport=polling');
    assert.deepEqual((await sockets(poll)).made, []);
    assert.deepEqual([...page.errors, ...poll.errors], []);
    await page.close(); await poll.close();
  },

  async 'a mention notifies while the tab is hidden, once asked for'(browser) {
    const page = await browser.newPage();
    page.errors = [];
    await page.addInitScript(() => {
      // The browser's Notification, recorded (headless Chromium shows none).
      window.__notes = [];
      window.Notification = class {
        constructor(title, options) { window.__notes.push([title, options && options.body]); }
        static get permission() { return window.__permission || 'default'; }
        static requestPermission() { window.__permission = 'granted'; return Promise.resolve('granted'); }
      };
    });
    await page.goto(base + '/');
    await page.waitForSelector('#chat.connected');
    await join(page, 'Mina');
    const other = await open(browser);
    await join(other, 'Sayer');
    await say(other, 'mina, before you asked');
    await page.check('#notify');
    await page.waitForFunction(() => window.__permission === 'granted');
    await say(other, 'mina, while you look');
    await lineWith(page, 'while you look');
    await setHidden(page, true);
    await say(other, 'nothing for you');
    await say(other, 'hey Mina, look');
    await lineWith(page, 'hey Mina, look');
    await page.waitForFunction(() => window.__notes.length > 0);
    assert.deepEqual(await page.evaluate(() => window.__notes), [['Sayer mentioned you', 'hey Mina, look']]);
    await page.close(); await other.close();
  },

  async 'http links are clickable and safe; javascript: is text; lines keep their newlines'(browser) {
    const ana = await open(browser);
    const bob = await open(browser);
    await join(ana, 'Linker');
    await join(bob, 'Clicker');
    await say(ana, 'see https://example.com/a?b=1. or javascript:alert(1) or <a href="javascript:alert(2)">x</a>');
    await lineWith(bob, 'see https://example.com/a?b=1');
    const links = await bob.$$eval('#lines a', (as) => as.map((a) => [a.getAttribute('href'), a.rel, a.target]));
    assert.deepEqual(links, [['https://example.com/a?b=1', 'noopener noreferrer', '_blank']]);
    await ana.fill('#message', 'line one');
    await ana.press('#message', 'Shift+Enter');
    await ana.type('#message', 'line two');
    await ana.press('#message', 'Enter');
    await lineWith(bob, 'line two');
    const text = await bob.$eval('#lines p.user:last-child .text', (t) => t.textContent);
    assert.equal(text, 'line one\nline two');
    await ana.close(); await bob.close();
  },

  async 'each line has its time, days are separated, a name has one colour everywhere'(browser) {
    const ana = await open(browser);
    const bob = await open(browser);
    await join(ana, 'Painter');
    await join(bob, 'Viewer');
    await say(ana, 'first');
    await say(ana, 'second');
    // Both, whichever way they arrive (live, or in the history page the new page asks for).
    await bob.waitForFunction(() => [...document.querySelectorAll('#lines p.user')]
      .filter((p) => p.textContent.startsWith('Painter')).length === 2, null, { timeout: 10000 });
    const info = await bob.$$eval('#lines p.user', (ps) => ps.filter((p) => p.textContent.startsWith('Painter')).map((p) => ({
      from: p.querySelector('.from').className,
      grouped: p.classList.contains('grouped'),
      datetime: p.querySelector('time').getAttribute('datetime'),
      title: p.querySelector('time').title,
    })));
    assert.equal(info.length, 2);
    assert.match(info[0].from, /\bnc\d\b/);
    assert.equal(info[0].from, info[1].from);
    assert.deepEqual(info.map((i) => i.grouped), [false, true], 'one sender: one name');
    assert.ok(Math.abs(Date.parse(info[0].datetime) - Date.now()) < 60000, info[0].datetime);
    assert.ok(info[0].title.includes(String(new Date().getFullYear())), info[0].title);
    assert.ok(await bob.$$eval('#lines .day', (ds) => ds.some((d) => d.textContent === 'Today')));
    const pill = await bob.$eval('#nicknames b:has-text("Painter")', (b) => b.className);
    assert.ok(pill.includes(info[0].from.split(' ').find((c) => c.startsWith('nc'))), pill);
    await ana.close(); await bob.close();
  },

  async 'scrolled up: new lines get a marker and a jump-to-newest button'(browser) {
    const ana = await open(browser);
    const bob = await open(browser, '/', { width: 390, height: 500 });
    await join(ana, 'Talker');
    await join(bob, 'Scroller');
    for (let i = 0; i < 15; i++) await say(ana, `filler ${i}`); // within the burst of 20
    await lineWith(bob, 'filler 14');
    // Once the page has followed the newest line (it scrolls on the next frame), scroll up.
    await bob.waitForFunction(() => { const l = document.querySelector('#lines'); return l.scrollHeight - l.scrollTop - l.clientHeight < 40; });
    await bob.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    // As a reader does (the page follows the newest line unless the reader scrolls away).
    await bob.hover('#lines');
    await bob.mouse.wheel(0, -5000);
    // The wheel returns before the page has scrolled (late on a loaded machine: CI once sent
    // the next line while the page was still at the bottom, and it followed that line).
    await bob.waitForFunction(() => { const l = document.querySelector('#lines'); return l.scrollHeight - l.scrollTop - l.clientHeight > 100; });
    await bob.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    await say(ana, 'while you were up');
    await lineWith(bob, 'while you were up');
    await bob.waitForSelector('#jump');
    await bob.waitForFunction(() => document.querySelector('#lines .new-marker')?.textContent === 'New messages');
    await bob.click('#jump');
    await bob.waitForFunction(() => { const l = document.querySelector('#lines'); return l.scrollHeight - l.scrollTop - l.clientHeight < 40; });
    await bob.waitForSelector('#jump', { state: 'detached' });
    await ana.close(); await bob.close();
  },

  async 'a Korean browser gets Korean, a Dutch one Dutch, and the language can be switched'() {
    const korean = await chromium.launch({ executablePath: '/usr/bin/chromium', args: [...CHROMIUM_ARGS, '--lang=ko'] });
    try {
      const ko = await open(korean, '/', undefined, { locale: 'ko-KR' });
      assert.equal(await ko.textContent('label[for=nick]'), '닉네임을 입력하고 Enter 키를 누르세요.');
      assert.equal(await ko.getAttribute('html', 'lang'), 'ko');
      const other = await open(korean, '/', undefined, { locale: 'ko-KR' });
      await join(other, '민수');
      await ko.fill('#nick', '민수');
      await ko.press('#nick', 'Enter');
      await ko.waitForFunction(() => document.querySelector('#nickname-err').textContent === '다른 사람이 소유한 닉네임입니다');
      await join(ko, '지은');
      await lineWith(other, '지은님이 들어왔습니다');
      assert.equal(await ko.title(), '채팅');
      await ko.selectOption('#lang', 'en');
      await ko.waitForFunction(() => document.querySelector('#message').placeholder === 'Message');
      assert.equal(await ko.getAttribute('html', 'lang'), 'en');
      await other.selectOption('#lang', 'nl');
      await lineWith(other, '지은 is binnengekomen'); // announcements are re-worded too
      assert.ok(!(await other.textContent('#lines')).includes('지은님이'));
      await ko.close(); await other.close();
    } finally { await korean.close(); }
    const dutch = await chromium.launch({ executablePath: '/usr/bin/chromium', args: [...CHROMIUM_ARGS, '--lang=nl'] });
    try {
      const nl = await open(dutch, '/', undefined, { locale: 'nl-NL' });
      assert.equal(await nl.textContent('label[for=nick]'), 'Typ je bijnaam en druk op Enter.');
      await join(nl, 'Jan');
      assert.equal(await nl.getAttribute('#message', 'placeholder'), 'Bericht');
      assert.equal(await nl.textContent('#send-message button'), 'Versturen');
      await nl.close();
    } finally { await dutch.close(); }
  },

  async 'rooms and direct messages: a side list with badges, links, the keyboard, a drawer on a phone'(browser) {
    const shots = path.join(process.cwd(), 'target', 'screenshots');
    fs.mkdirSync(shots, { recursive: true });
    // Ana's browser outlives her tab (her next visit); the audits need their script let in.
    const anaBrowser = await browser.newContext({ viewport: { width: 1280, height: 800 }, bypassCSP: true });
    const ana = await visit(await anaBrowser.newPage());
    const bo = await open(browser, '/', { width: 390, height: 844 }, { colorScheme: 'dark', bypassCSP: true });
    const cy = await open(browser);
    await join(ana, 'RoomAna');
    await join(bo, 'RoomBo');
    await join(cy, 'RoomCy');
    const title = (page) => page.textContent('#channel-title');
    // Join or create a room from the side list: it opens, and the address names it.
    await ana.fill('#room-name', 'Crafts');
    await ana.press('#room-name', 'Enter');
    await ana.waitForFunction(() => document.querySelector('#channel-title').textContent === '# crafts');
    assert.equal(new URL(ana.url()).hash, '#/r/crafts');
    await say(ana, 'knitting tonight?');
    await lineWith(ana, 'knitting tonight?');
    // A link to the room opens it (and joins it).
    await bo.goto(`${base}/#/r/crafts`);
    await bo.waitForFunction(() => document.querySelector('#channel-title').textContent === '# crafts');
    await lineWith(bo, 'knitting tonight?');
    // In a room the online list shows who is in it.
    await bo.waitForFunction(() => document.querySelector('#online-label').textContent === 'In this room:'
      && document.querySelector('#nicknames').textContent.includes('RoomAna'));
    // ...and stays true as people come and go: Ana's list gains RoomBo without asking again
    // (the page asks again only every 60 s, and this page is younger than that).
    await ana.waitForFunction(() => document.querySelector('#nicknames').textContent.includes('RoomBo'), null, { timeout: 5000 });
    assert.ok(!(await cy.textContent('#lines')).includes('knitting'), 'general does not show a room');
    // A link to a room that does not exist creates nothing: the page says so and stays.
    await cy.goto(`${base}/#/r/nowhere`);
    await cy.waitForFunction(() => document.querySelector('#room-err').textContent === 'There is no such room');
    assert.equal(await title(cy), '# general');
    // The keyboard switches rooms; a line in a room not shown counts on its badge.
    await ana.keyboard.press('Alt+ArrowUp');
    await ana.waitForFunction(() => document.querySelector('#channel-title').textContent === '# general');
    assert.equal(new URL(ana.url()).hash, '#/r/general');
    await say(bo, 'yes, at eight');
    await ana.waitForFunction(() => document.querySelector('#channels a[href="#/r/crafts"] .badge span[aria-hidden]')?.textContent === '1');
    // A direct message from the online list: only its addressee gets it.
    await bo.click('#nicknames button.dm:text("RoomAna")');
    await bo.waitForFunction(() => document.querySelector('#channel-title').textContent === '@ RoomAna');
    await say(bo, 'just for you');
    await ana.waitForFunction(() => document.querySelector('#channels a[href="#/dm/RoomBo"] .badge.mention span[aria-hidden]')?.textContent === '1');
    await ana.click('#channels a[href="#/dm/RoomBo"]');
    await lineWith(ana, 'just for you');
    assert.equal(new URL(ana.url()).hash, '#/dm/RoomBo');
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!(await cy.textContent('#chat')).includes('just for you'), 'a third page sees nothing of it');
    await audit(ana, 'desktop with rooms and a direct conversation');
    await ana.screenshot({ path: path.join(shots, 'rooms-light-1280x800.png') });
    // The next visit: a line written meanwhile waits, counted on its badge.
    await ana.click('#channels a[href="#/r/general"]');
    await ana.close();
    await say(bo, 'while you were away');
    await new Promise((r) => setTimeout(r, 300));
    const back = await visit(await anaBrowser.newPage());
    await back.waitForSelector('#chat.nickname-set', { timeout: 10000 });
    await back.waitForFunction(() => document.querySelector('#channels a[href="#/dm/RoomBo"] .badge span[aria-hidden]')?.textContent === '1', null, { timeout: 10000 });
    assert.ok(await back.isVisible('#channels a[href="#/r/crafts"]'), 'her rooms came back with her nickname');
    await back.click('#channels a[href="#/dm/RoomBo"]');
    await lineWith(back, 'while you were away');
    // Leaving a room takes it out of the list.
    await back.click('#channels a[href="#/r/crafts"]');
    await back.click('#leave-room');
    await back.waitForFunction(() => document.querySelector('#channel-title').textContent === '# general');
    await back.waitForSelector('#channels a[href="#/r/crafts"]', { state: 'detached' });
    // On a phone the list is a drawer.
    assert.ok(!(await bo.isVisible('#channels a[href="#/r/crafts"]')), 'closed at first');
    await bo.click('#channels-toggle');
    await bo.waitForSelector('#channels.open a[href="#/r/crafts"]', { state: 'visible' });
    await audit(bo, 'phone with the drawer open');
    await bo.screenshot({ path: path.join(shots, 'rooms-dark-390x844-drawer.png') });
    await bo.click('#channels a[href="#/r/crafts"]');
    await bo.waitForSelector('#channels.open', { state: 'detached' });
    await bo.screenshot({ path: path.join(shots, 'rooms-dark-390x844.png') });
    assert.deepEqual([...back.errors, ...bo.errors, ...cy.errors], []);
    await anaBrowser.close(); await bo.close(); await cy.close();
  },

  async 'an original-API client chats with a page user in general and hears nothing of rooms'(browser) {
    // The original page's logic on the socket.io JS client: nickname, then user message.
    const { io } = require('socket.io-client');
    const old = io(base, { transports: ['websocket'], reconnection: false, forceNew: true });
    const seen = { lines: [], events: [] };
    old.onAny((event) => seen.events.push(event));
    old.on('user message', (from, msg) => seen.lines.push([from, msg]));
    await new Promise((resolve, reject) => { old.on('connect', resolve); old.on('connect_error', reject); });
    const taken = await new Promise((resolve) => old.emit('nickname', 'OldTimer', resolve));
    assert.equal(taken, false, 'the original client got its nickname');
    const page = await open(browser);
    await join(page, 'PageUser');
    await say(page, 'hello, old friend');
    await waitFor(() => seen.lines.some(([f, m]) => f === 'PageUser' && m === 'hello, old friend'), 'the page user\'s line');
    old.emit('user message', 'hello from 2013');
    await lineWith(page, 'hello from 2013');
    // The page user in a room: the original client hears nothing of it.
    await page.fill('#room-name', 'backroom');
    await page.press('#room-name', 'Enter');
    await page.waitForFunction(() => document.querySelector('#channel-title').textContent === '# backroom');
    await say(page, 'only in the back room');
    await lineWith(page, 'only in the back room');
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(!seen.lines.some(([, m]) => m === 'only in the back room'), 'no room line in general');
        // (It gets `session` and `typing` too, which the original page has no handler for.)
    const rooms = seen.events.filter((e) => ['room message', 'direct message'].includes(e));
    assert.deepEqual(rooms, [], 'no room or direct events reach the original client');
    old.close();
    assert.deepEqual(page.errors, []);
    await page.close();
  },

  async 'a key takes an owned nickname to another device (one device at a time)'(browser) {
    const desktop = await open(browser);
    await join(desktop, 'TwoDevices');
    await desktop.click('#other-device');
    const key = (await desktop.textContent('#owner-key')).trim();
    assert.match(key, /^[0-9a-f]{32}\.TwoDevices$/);
    await desktop.click('#device-key-close');
    await desktop.waitForSelector('#device-key', { state: 'detached' });
    const phone = await open(browser, '/', { width: 390, height: 844 });
    await phone.click('#use-key summary');
    await phone.fill('#owner-key-input', 'not a key');
    await phone.click('#use-key-button');
    await phone.waitForFunction(() => document.querySelector('#key-err').textContent === 'That is not a key of this chat');
    await phone.fill('#owner-key-input', key);
    await phone.click('#use-key-button');
    await phone.waitForSelector('#chat.nickname-set', { timeout: 5000 });
    // The phone is TwoDevices now, and keeps it (its own copy of the key); the desktop was told.
    const kept = await phone.evaluate(() => localStorage.getItem('chat.owner'));
    assert.ok(kept.includes('TwoDevices') && kept.includes(key.split('.')[0]), kept);
    await desktop.waitForFunction(() => document.querySelector('#nickname-err').textContent === 'You are signed in from another tab');
    await say(phone, 'from my phone');
    await lineWith(phone, 'from my phone');
    assert.deepEqual([...desktop.errors, ...phone.errors], []);
    await desktop.close(); await phone.close();
  },

  async 'moderation: a report, a moderator deletes the line everywhere and mutes its author, who is told why'(browser) {
    // Dialogs (a report's reason, a confirmation, a moderator's reason) are answered here.
    const answering = (page, reason) => {
      page.removeAllListeners('dialog');
      page.on('dialog', (d) => d.accept(d.type() === 'prompt' ? reason : undefined));
    };
    const modi = await open(browser);
    await join(modi, 'Modi');
    const granted = spawn(bin, ['moderators', 'add', 'Modi'], { env: process.env, stdio: 'inherit' });
    assert.equal(await new Promise((r) => granted.once('exit', r)), 0, 'chat-server moderators add Modi');
    const troll = await open(browser);
    await join(troll, 'Trolly');
    const reader = await open(browser);
    await join(reader, 'Tattler');
    await say(troll, 'buy cheap stuff');
    await lineWith(reader, 'buy cheap stuff');
    // The roles reach pages when they are named (and every 15 s): the moderator reloads.
    await new Promise((r) => setTimeout(r, 2500));
    await modi.reload();
    await modi.waitForSelector('#chat.nickname-set');
    await reader.waitForSelector('#nicknames .role.moderator', { timeout: 20000 });
    const badge = await reader.textContent('#nicknames b:has(.role.moderator) button');
    assert.equal(badge, 'Modi');

    answering(reader, 'spam');
    const spam = reader.locator('#lines p.user', { hasText: 'buy cheap stuff' });
    await spam.locator('.line-menu summary').click();
    assert.equal(await spam.locator('.line-menu .delete').count(), 0, 'a reader cannot delete');
    await spam.locator('.line-menu .report').click();
    await lineWith(reader, 'the moderators will look at it');

    answering(modi, 'no ads');
    await modi.click('#open-reports');
    const report = modi.locator('#reports li', { hasText: 'buy cheap stuff' });
    await report.waitFor();
    assert.ok((await report.textContent()).includes('reported by Tattler'), await report.textContent());
    await report.locator('.delete').click();
    for (const page of [reader, troll, modi]) {
      await page.waitForFunction(() => ![...document.querySelectorAll('#lines p')].some((p) => p.textContent.includes('buy cheap')));
    }
    await modi.waitForSelector('#reports .empty');
    await modi.waitForFunction(() => [...document.querySelectorAll('#reports ol.audit li')].some((li) => li.textContent.includes('Modi delete')));
    assert.ok((await modi.textContent('#reports ol.audit')).includes('(operator) grant Modi'), await modi.textContent('#reports ol.audit'));
    await modi.screenshot({ path: path.join(process.cwd(), 'target', 'screenshots', 'moderator-reports.png') });
    await modi.click('#reports-close');

    // Mute from the name's menu: the person is told who, until when and why, and cannot post.
    const trolly = modi.locator('#nicknames b', { hasText: 'Trolly' });
    await trolly.locator('.person-menu summary').click();
    await trolly.locator('.person-menu .mute').click();
    await lineWith(troll, 'Modi muted you until');
    await lineWith(troll, 'no ads');
    await say(troll, 'still here');
    await troll.waitForFunction(() => [...document.querySelectorAll('#lines p.failed')].some((p) => p.textContent.includes('A moderator muted you')));
    await troll.screenshot({ path: path.join(process.cwd(), 'target', 'screenshots', 'muted.png') });

    // Room settings: slow mode on general, said to its readers; then off again.
    await modi.click('#room-rules summary');
    await modi.click('#slow-mode');
    await lineWith(reader, 'general: one line per 30 seconds per person');
    await modi.click('#room-rules summary');
    await modi.waitForFunction(() => document.querySelector('#slow-mode').textContent === 'End slow mode');
    await modi.click('#slow-mode');
    await lineWith(reader, 'general is open to everyone');
    assert.equal(await reader.locator('#room-rules').count(), 0, 'no settings for a reader');

    // A ban (confirmed): the page is back at its form, says who, until when and why, and does
    // not take the name back by itself after its reconnect.
    await trolly.locator('.person-menu summary').click();
    await trolly.locator('.person-menu .ban').click();
    await troll.waitForFunction(() => document.querySelector('#nickname-err').textContent.includes('Modi banned you until'));
    assert.ok((await troll.textContent('#nickname-err')).includes('no ads'));
    await troll.waitForSelector('#chat.connected', { timeout: 10000 });
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await troll.locator('#chat.nickname-set').count(), 0, 'not named again by itself');
    await troll.fill('#nick', 'Trolly');
    await troll.press('#nick', 'Enter');
    await troll.waitForFunction(() => document.querySelector('#nickname-err').textContent.includes('banned you'));
    await troll.screenshot({ path: path.join(process.cwd(), 'target', 'screenshots', 'banned.png') });
    assert.deepEqual([...modi.errors, ...troll.errors, ...reader.errors], []);
    await modi.close(); await troll.close(); await reader.close();
  },

  async 'the accessibility audit finds nothing serious, in light and dark, and screenshots'(browser) {
    const shots = path.join(process.cwd(), 'target', 'screenshots');
    fs.mkdirSync(shots, { recursive: true });
    const friend = await open(browser);
    await join(friend, 'Friend');
    await say(friend, 'Hallo! 안녕하세요 👋 see https://example.com');
    for (const scheme of ['light', 'dark']) {
      for (const viewport of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
        const page = await open(browser, '/', viewport, { colorScheme: scheme, bypassCSP: true });
        const name = `${scheme}-${viewport.width}x${viewport.height}`;
        await audit(page, `${name} nickname form`);
        await page.screenshot({ path: path.join(shots, `${name}-nickname.png`) });
        await join(page, `Bob${viewport.width}${scheme}`);
        await say(friend, `a long word: ${'Pneumonoultramicroscopicsilicovolcanoconiosis'.repeat(3)}`);
        await lineWith(page, 'Pneumono');
        await friend.type('#message', 'typing', { delay: 20 });
        await page.waitForFunction(() => document.querySelector('#typing').textContent !== '');
        await say(page, 'my own line\nwith a second line');
        await lineWith(page, 'with a second line');
        await audit(page, `${name} chat`);
        await page.screenshot({ path: path.join(shots, `${name}-chat.png`) });
        await page.close();
      }
    }
    await friend.close();
  },

  async 'a history request refused past the address\'s rate is asked again after the wait it names'(browser) {
    // A NAT's crowd coming back at once can take its address's history budget (burst 100, then
    // 4/s): a page refused `rate_limited` asks again after the seconds the refusal names.
    const early = await open(browser);
    await join(early, 'EarlyBird');
    await say(early, 'said before the crowd came back');
    await lineWith(early, 'said before the crowd came back');
    const { io } = require('socket.io-client');
    const crowd = [];
    for (let i = 0; i < 12; i++) {
      const c = io(base, { transports: ['websocket'], reconnection: false, forceNew: true });
      await new Promise((resolve, reject) => { c.on('connect', resolve); c.on('connect_error', reject); });
      crowd.push(c);
    }
    // Each answer's receipt goes back, as a page's does (else the crowd stops at 8 unreceived).
    const ask = (c) => new Promise((resolve) => c.emit('history', {}, (...args) => {
      if (args[2] != null) c.emit('received', args[2]);
      resolve(args[0]);
    }));
    let refused = 0;
    for (const c of crowd) for (let i = 0; i < 9; i++) if ((await ask(c))?.code === 'rate_limited') refused += 1;
    assert.ok(refused > 0, 'the crowd took the address\'s budget');
    // The crowd keeps asking (faster than the budget refills) until the page's `history` was
    // refused; a visit whose request got through anyway (a stall let the budget refill) is
    // made again.
    let draining = true;
    const drain = (async () => {
      for (let i = 0; draining; i += 1) {
        await ask(crowd[i % crowd.length]);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    let page;
    let historyRefused = false;
    for (let visits = 0; visits < 5 && !historyRefused; visits += 1) {
      if (page) await page.close();
      page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      const historyAcks = new Set();
      page.on('websocket', (ws) => {
        ws.on('framesent', ({ payload }) => {
          const asked = /^42(\d+)\["history"/.exec(String(payload));
          if (asked) historyAcks.add(asked[1]);
        });
        ws.on('framereceived', ({ payload }) => {
          const refused = /^43(\d+)\[\{"code":"rate_limited"/.exec(String(payload));
          if (refused && historyAcks.has(refused[1])) historyRefused = true;
        });
      });
      await visit(page);
      await waitFor(() => historyRefused, 'the page\'s history request refused', 3000).catch(() => {});
    }
    draining = false;
    await drain;
    assert.ok(historyRefused, 'the page\'s history request was refused in one of 5 visits');
    await lineWith(page, 'said before the crowd came back');
    for (const c of crowd) c.close();
    assert.deepEqual([...early.errors, ...page.errors], []);
    await early.close(); await page.close();
  },
};

(async () => {
  await startServer();
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  let passed = 0; let failed = 0;
  // E2E_ONLY=<part of a name> runs just those (while developing one).
  const only = process.env.E2E_ONLY;
  for (const [name, test] of Object.entries(tests)) {
    if (only && !name.includes(only)) continue;
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
