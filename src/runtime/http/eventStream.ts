/**
 * Server-sent event streams on a raw reply: deploy progress, log follows, queue status and the
 * runtime's events all go out this way.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

/** A comment line now and then keeps proxies and idle timeouts from closing a quiet stream. */
const KEEP_ALIVE_MS = 15_000;

/** Events an event-stream client may leave unread before it is disconnected. */
const MAX_UNREAD_EVENT_BYTES = 8 * 1024 * 1024;

/** Starts a server-sent event stream on a raw reply; returns the function that sends one event. */
export function openEventStream(request: FastifyRequest, reply: FastifyReply): (data: unknown) => void {
  reply.hijack();
  reply.raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  reply.raw.flushHeaders();
  request.raw.socket.setNoDelay(true);
  return (data) => {
    if (reply.raw.destroyed) return;
    // A client that stopped reading is let go rather than buffered for without end; its
    // 'close' stops what feeds the stream, and a log follower reconnects from where it was.
    if (reply.raw.writableLength > MAX_UNREAD_EVENT_BYTES) {
      reply.raw.destroy();
      return;
    }
    reply.raw.write(`data: ${JSON.stringify(data)}\n\n`);
  };
}

/** Keeps a long-lived stream open while it is quiet; when the client goes, calls `stop`. */
export function keepOpen(reply: FastifyReply, stop: () => void): void {
  const keepAlive = setInterval(() => reply.raw.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
  reply.raw.on('close', () => {
    stop();
    clearInterval(keepAlive);
  });
}
