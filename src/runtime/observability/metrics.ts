/**
 * Prometheus metrics of the runtime, served at /v1/metrics, and the per-minute history of the
 * same requests, runners and costs that the editor's dashboard charts (usage.ts).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RevisionPool } from '../runners/pool';
import { UsageHistory } from './usage';

export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'app' | 'status'>;
  private readonly duration: Histogram<'app'>;
  private readonly queueWait: Histogram<'app'>;
  private readonly coldStarts: Histogram<'app'>;
  readonly usage: UsageHistory;

  constructor(pools: () => RevisionPool[], costs: () => { app: string; usd: number }[], usageFile: string) {
    this.usage = new UsageHistory(usageFile, {
      runners: () => {
        const counts = new Map<string, number>();
        for (const pool of pools()) counts.set(pool.app, (counts.get(pool.app) ?? 0) + pool.runners.size);
        return counts;
      },
      costs,
    });
    const registers = [this.registry];
    this.requests = new Counter({ name: 'kiln_requests_total', help: 'Invocations answered, by app and HTTP status.', labelNames: ['app', 'status'], registers });
    this.duration = new Histogram({
      name: 'kiln_request_duration_seconds', help: 'Time from a request arriving to its answer.', labelNames: ['app'], registers,
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
    });
    this.queueWait = new Histogram({
      name: 'kiln_queue_wait_seconds', help: 'Time requests waited for a free runner.', labelNames: ['app'], registers,
      buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30, 60],
    });
    this.coldStarts = new Histogram({
      name: 'kiln_cold_start_seconds', help: 'Time from starting a runner to the end of its setup.', labelNames: ['app'], registers,
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
    });
    new Gauge({
      name: 'kiln_runners', help: 'Runners by app and state.', labelNames: ['app', 'state'], registers,
      collect() {
        this.reset();
        for (const pool of pools()) {
          for (const runner of pool.runnerInfo()) this.inc({ app: pool.app, state: runner.state });
        }
      },
    });
    new Gauge({
      name: 'kiln_queued_requests', help: 'Requests waiting for a runner.', labelNames: ['app'], registers,
      collect() {
        this.reset();
        for (const pool of pools()) this.inc({ app: pool.app }, pool.queued);
      },
    });
    new Gauge({
      name: 'kiln_cost_usd', help: 'What each app\'s runners have cost so far, at its machine type\'s price.', labelNames: ['app'], registers,
      collect() {
        this.reset();
        for (const { app, usd } of costs()) this.set({ app }, usd);
      },
    });
  }

  request(app: string, status: number, seconds: number, queueSeconds: number): void {
    this.requests.inc({ app, status: String(status) });
    this.duration.observe({ app }, seconds);
    this.queueWait.observe({ app }, queueSeconds);
    this.usage.record(app, status, seconds * 1000);
  }

  coldStart(app: string, ms: number): void {
    this.coldStarts.observe({ app }, ms / 1000);
  }
}
