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
import { keepOpen, openEventStream } from './eventStream';

const DEFAULT_USAGE_WINDOW = '1h';

export function registerMonitoring(server: FastifyInstance, deps: { events: EventBus; metrics: Metrics }): void {
  server.get('/v1/events', async (request, reply) => {
    keepOpen(reply, deps.events.subscribe(openEventStream(request, reply)));
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
