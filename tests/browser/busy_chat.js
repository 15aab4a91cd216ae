// A busy chat for the scripts that fill it quickly (window.js, leak_probe.js): the real
// chat-server on 127.0.0.1:PORT with its message limits lifted and history without syncs, a
// socket.io bot that says numbered lines, and a wait for the page to show the bot's last one.
'use strict';
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const { io } = require('socket.io-client');

/// Resolves to the server's process once it answers /healthz; `env` adds to the environment.
async function startBusyServer(bin, port, env = {}) {
  const server = spawn(bin, [], {
    env: {
      ...process.env, PORT: port, CHAT_BIND: '127.0.0.1', CHAT_LOG: process.env.CHAT_TEST_LOG || 'warn',
      CHAT_MESSAGE_BURST: '100000', CHAT_MESSAGES_PER_SECOND: '100000', CHAT_MAX_CONNECTIONS_PER_ADDRESS: '0',
      CHAT_HISTORY_SYNC: 'off', ...env,
    },
    stdio: 'inherit',
  });
  for (let i = 0; i < 200; i++) {
    try { if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return server; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('server did not start');
}

/// A socket.io client of the server at `base`, named `nick`; `say(count)` says the next
/// `count` numbered lines ("line 1", "line 2"…), `said()` how many so far.
async function busyBot(base, nick) {
  const socket = io(base, { transports: ['websocket'], reconnection: false });
  await new Promise((ok, fail) => { socket.once('connect', ok); socket.once('connect_error', fail); });
  const taken = await socket.timeout(5000).emitWithAck('nickname', nick);
  assert.equal(taken, false, 'the bot got its nickname');
  let next = 1;
  return {
    async say(count) {
      // At most IN_FLIGHT lines unacknowledged: the acks of thousands sent at once would pile
      // up past the server's per-connection queue (MAX_BUFFERED_PACKETS, 2,048) whenever this
      // process is slow to read them on a busy machine, and the server rightly closes a reader
      // that slow (CI saw it once the server stored and acked faster).
      const IN_FLIGHT = 250;
      while (count > 0) {
        const sent = [];
        for (let i = 0; i < Math.min(count, IN_FLIGHT); i++, next++) {
          // The ack is node-style: [null, {id, ts}] when stored, [error] when refused.
          sent.push(new Promise((ok, fail) => socket.timeout(20000).emit('user message', `line ${next}`,
            { key: `k${next}` }, (timeout, error, meta) => (timeout || error ? fail(timeout || error) : ok(meta)))));
        }
        count -= sent.length;
        await Promise.all(sent);
      }
    },
    said: () => next - 1,
    close: () => socket.close(),
  };
}

/// Until the page's last line is the bot's line `n`.
const untilLast = (page, n, timeout = 10000) => page.waitForFunction((n) => {
  const texts = [...document.querySelectorAll('#lines p.user .text')].map((e) => e.textContent);
  return texts[texts.length - 1] === `line ${n}`;
}, n, { timeout });

module.exports = { startBusyServer, busyBot, untilLast };
