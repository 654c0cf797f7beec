// Socket.IO protocol module: one shared connection per page; no DOM code.
import { io } from "/vendor/socket.io/socket.io.esm.min.js";

let socket = null;

export function connect(token) {
  if (socket) return socket;
  // features: this client takes a busy room's chat as chat:batch frames.
  socket = io({ auth: { token, features: ["chat:batch"] }, transports: ["websocket", "polling"] });
  return socket;
}

// Emit with an acknowledgement; resolves to the server's {ok, ...} reply.
export function request(sock, event, payload, timeoutMs = 8000) {
  return new Promise((resolve) => {
    sock.timeout(timeoutMs).emit(event, payload, (err, reply) => {
      resolve(err ? { ok: false, error: "timeout" } : reply);
    });
  });
}
