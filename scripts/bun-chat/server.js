// Benchmark peer (docs/benchmarks.md), not the product: the Node reference's logic
// (../shared/reference/node-chat/server.js, a port of socket.io 0.9.14's examples/chat) on
// socket.io 4.8 with Bun's engine (@socket.io/bun-engine), run by Bun.
// Listens on 127.0.0.1:$PORT (default 3000); socket.io at /socket.io/.
import { Server as Engine } from '@socket.io/bun-engine';
import { Server } from 'socket.io';

const port = parseInt(process.env.PORT || '3000', 10);

const io = new Server();
const engine = new Engine({ path: '/socket.io/' });
io.bind(engine);

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
});

const { fetch, websocket } = engine.handler();
Bun.serve({
  hostname: '127.0.0.1',
  port,
  idleTimeout: 30,
  fetch(req, server) {
    // Everything but socket.io is 404, as with the Node reference.
    if (!new URL(req.url).pathname.startsWith('/socket.io/')) return new Response('not found\n', { status: 404 });
    return fetch(req, server);
  },
  websocket,
});
console.error(`bun-chat listening on http://127.0.0.1:${port} (pid ${process.pid})`);
