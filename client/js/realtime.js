// Socket.IO protocol module: one shared connection per page; no DOM code.
import { io } from "/vendor/socket.io/socket.io.esm.min.js";

let socket = null;

export function connect(token) {
  if (socket) return socket;
  // features: this client takes a busy room's chat as chat:batch frames.
  // Reconnect quickly after a server restart (the default backoff grows to
  // 5 s); the randomisation spreads a crowd's reconnections.
  socket = io({
    auth: { token, features: ["chat:batch"] }, transports: ["websocket", "polling"],
    reconnectionDelay: 300, reconnectionDelayMax: 1500, randomizationFactor: 0.5,
  });
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
