// Starts the real chat-server for a script that fills the chat quickly (window.js,
// leak_probe.js): on 127.0.0.1:PORT, its message limits lifted, history without syncs.
'use strict';
const { spawn } = require('node:child_process');

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

module.exports = { startBusyServer };
