// The Node reference server (../shared/reference/node-chat/server.js: the original's logic on
// socket.io 4), extended with socket.io's own rooms for the "many rooms" benchmark, speaking
// the same room events as chat-server (docs/protocol.md, "Rooms") so that one load generator
// drives both. A benchmark peer, not a product: no validation beyond what the events need.
// Usage: PORT=… node node-rooms-server.js (run from target/node-chat, where socket.io is).
'use strict';

const http = require('http');
const { Server } = require('socket.io');

const port = parseInt(process.env.PORT || '3000', 10);
const host = process.env.HOST || '127.0.0.1';
const httpServer = http.createServer((req, res) => {
  res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end('not found\n');
});
const io = new Server(httpServer, { transports: ['polling', 'websocket'] });

// The reference's logic, unchanged.
const nicknames = {};
io.sockets.on('connection', function (socket) {
  socket.on('user message', function (msg) {
    socket.broadcast.emit('user message', socket.nickname, msg);
  });
  socket.on('nickname', function (nick, fn) {
    if (typeof fn !== 'function') fn = function () {};
    if (nicknames[nick]) {
      fn(true);
    } else {
      fn(false);
      nicknames[nick] = socket.nickname = nick;
      socket.broadcast.emit('announcement', nick + ' connected');
      io.sockets.emit('nicknames', nicknames);
    }
  });
  socket.on('disconnect', function () {
    if (!socket.nickname) return;
    delete nicknames[socket.nickname];
    socket.broadcast.emit('announcement', socket.nickname + ' disconnected');
    socket.broadcast.emit('nicknames', nicknames);
  });

  // Rooms, with socket.io's own: `create room` ({name}), `join room` ({room}) and `room
  // message` ({room, text}) as chat-server has them (acks `[null, …]`); a line goes to the
  // room's other members as `room message` ({room, from, text}).
  const ack = (fn, value) => { if (typeof fn === 'function') fn(null, value); };
  socket.on('create room', function (req, fn) {
    const name = String(req && req.name);
    socket.join(name);
    ack(fn, { name, topic: '' });
  });
  socket.on('join room', function (req, fn) {
    const name = String(req && req.room);
    socket.join(name);
    ack(fn, { name, topic: '' });
  });
  socket.on('room message', function (req, fn) {
    const room = String(req && req.room);
    socket.to(room).emit('room message', { room, from: socket.nickname || socket.id, text: String(req && req.text) });
    ack(fn, {});
  });
});

httpServer.listen(port, host, () => {
  console.error(`node rooms chat listening on http://${host}:${port} (pid ${process.pid})`);
});
function shutdown() {
  io.close();
  httpServer.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
