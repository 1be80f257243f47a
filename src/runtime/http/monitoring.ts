/**
 * The routes an editor watches the runtime through: `GET /v1/events`, what happens as it
 * happens (server-sent events), and `GET /v1/usage`, requests, latency, runners and cost per
 * app and minute. Both need the token, as all of /v1 does.
 */
import type { FastifyInstance } from 'fastify';
import { HttpError } from '../apps';
import type { EventBus } from '../observability/events';
import { parseSince } from '../observability/logs';
import type { Metrics } from '../observability/metrics';
import { openEventStream } from './server';

/** A comment line now and then keeps proxies and idle timeouts from closing a quiet stream. */
const KEEP_ALIVE_MS = 15_000;
const DEFAULT_USAGE_WINDOW = '1h';

export function registerMonitoring(server: FastifyInstance, deps: { events: EventBus; metrics: Metrics }): void {
  server.get('/v1/events', async (request, reply) => {
    const send = openEventStream(request, reply);
    const stop = deps.events.subscribe(send);
    const keepAlive = setInterval(() => reply.raw.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
    reply.raw.on('close', () => {
      stop();
      clearInterval(keepAlive);
    });
    return reply;
  });

  server.get<{ Querystring: { since?: string } }>('/v1/usage', async (request) => {
    let since: number;
    try {
      since = parseSince(request.query.since ?? DEFAULT_USAGE_WINDOW);
    } catch (error) {
      throw new HttpError(400, (error as Error).message);
    }
    return deps.metrics.usage.query(since);
  });
}
