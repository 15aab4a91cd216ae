// Interop: the original page's client logic, on the official socket.io JS client (v4),
// against chat-server. Usage: node interop.js <url> <transport: websocket|polling>
// Exits 0 when every step happened, 1 (with the reason) otherwise.
'use strict';
const assert = require('node:assert/strict');
const { io } = require('socket.io-client');

const [url, transport] = process.argv.slice(2);
const opts = { transports: [transport], reconnection: false, forceNew: true };
const fail = (why) => { console.error(`interop (${transport}) failed: ${why}`); process.exit(1); };
setTimeout(() => fail('timed out'), 15000).unref();

// What the original page did with each event, recorded instead of drawn.
function page(name) {
  const socket = io(url, opts);
  const seen = { lines: [], announcements: [], nicknames: null };
  socket.on('announcement', (msg) => seen.announcements.push(msg));
  socket.on('nicknames', (nicknames) => { seen.nicknames = nicknames; });
  socket.on('user message', (from, msg) => seen.lines.push([from, msg]));
  socket.on('connect_error', (e) => fail(`${name}: connect_error ${e.message}`));
  // The original's nickname form: the callback's `set` is true when the name is taken.
  const setNickname = (nick) => new Promise((resolve) => socket.emit('nickname', nick, (set) => resolve(set)));
  return { socket, seen, setNickname };
}

const until = (what, check) => new Promise((resolve) => {
  const t = setInterval(() => { if (check()) { clearInterval(t); resolve(); } }, 10);
  setTimeout(() => { clearInterval(t); fail(`never saw ${what}`); }, 5000).unref();
});

(async () => {
  const ana = page('ana');
  const bob = page('bob');
  await until('both connected', () => ana.socket.connected && bob.socket.connected);
  assert.equal(ana.socket.io.engine.transport.name, transport);

  assert.equal(await ana.setNickname('Ana'), false, 'Ana accepted');
  assert.equal(await bob.setNickname('ana'), true, '"ana" is taken');
  assert.equal(await bob.setNickname('Bob'), false, 'Bob accepted');
  await until('Bob connected announcement', () => ana.seen.announcements.includes('Bob connected'));
  await until('both in the list', () => JSON.stringify(ana.seen.nicknames) === JSON.stringify({ Ana: 'Ana', Bob: 'Bob' }));

  ana.socket.emit('user message', 'hello from Ana');
  bob.socket.emit('user message', '안녕하세요 👋 Hallo, wereld — één');
  await until('Ana\'s line at Bob', () => bob.seen.lines.some(([f, m]) => f === 'Ana' && m === 'hello from Ana'));
  await until('Bob\'s line at Ana', () => ana.seen.lines.some(([f, m]) => f === 'Bob' && m === '안녕하세요 👋 Hallo, wereld — één'));
  assert.equal(ana.seen.lines.length, 1, 'no echo of one\'s own line');

  // A page-era user in a room of its own: the original clients see nothing of it.
  const carol = page('carol');
  await until('Carol connected', () => carol.socket.connected);
  assert.equal(await carol.setNickname('Carol'), false, 'Carol accepted');
  const events = [];
  ana.socket.onAny((event) => events.push(event));
  const ask = (event, arg) => new Promise((resolve) => carol.socket.emit(event, arg, (...a) => resolve(a)));
  assert.equal((await ask('create room', { name: 'side' }))[0], null, 'room created');
  assert.equal((await ask('room message', { room: 'side', text: 'in a room' }))[0], null, 'room line');
  carol.socket.emit('user message', 'in general');
  await until('Carol\'s general line at Ana', () => ana.seen.lines.some(([f, m]) => f === 'Carol' && m === 'in general'));
  assert.ok(!ana.seen.lines.some(([, m]) => m === 'in a room'), 'no room line in general');
  assert.ok(!events.includes('room message'), `no room events at an original client: ${events}`);
  carol.socket.disconnect();
  await until('Carol disconnected announcement', () => ana.seen.announcements.includes('Carol disconnected'));

  bob.socket.disconnect();
  await until('Bob disconnected announcement', () => ana.seen.announcements.includes('Bob disconnected'));
  await until('Bob gone from the list', () => JSON.stringify(ana.seen.nicknames) === JSON.stringify({ Ana: 'Ana' }));
  ana.socket.disconnect();
  console.log(`interop (${transport}) ok`);
  process.exit(0);
})().catch((e) => fail(e.stack || e));
