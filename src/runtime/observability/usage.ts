/**
 * Usage over time, for the editor's dashboard and its "cost today": per app and minute, the
 * requests answered, their latency p50 and p95, the runners at the minute's end and the app's
 * cost so far. Prometheus's /v1/metrics has counters since the start; charts need the history,
 * and a webview reads JSON better than Prometheus text, so the runtime keeps that history itself.
 *
 * Minutes with nothing to tell (no requests, no runners, no new cost) are not stored. Stored
 * minutes go to usage.jsonl in the data directory, so the history and "cost today" survive a
 * restart; a week is kept.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import type { UsageResponse, UsageSample } from '../../shared/api';
import { reportFault } from '../faults';
import { writeFileAtomic } from '../state/atomicFiles';

const MINUTE_MS = 60_000;
const RETENTION_MS = 7 * 24 * 3600 * 1000;
/** Latencies kept per app and minute; past this a random sample of them stands for all. */
const LATENCIES_PER_MINUTE = 2_000;

export interface UsageSources {
  /** Runners per app right now (draining revisions included). */
  runners(): Map<string, number>;
  /** Each live app's cost so far, live runners included. */
  costs(): { app: string; usd: number }[];
}

interface MinuteCounts {
  requests: number;
  errors: number;
  latencies: number[];
}

export class UsageHistory {
  private samples: UsageSample[] = [];
  private readonly lastCost = new Map<string, number>();
  private minuteStart: number;
  private counts = new Map<string, MinuteCounts>();
  private timer: NodeJS.Timeout | undefined;
  /** Stored samples dropped from memory since the file was last rewritten without them. */
  private expired = 0;

  constructor(private readonly file: string, private readonly sources: UsageSources, private readonly now: () => number = Date.now) {
    this.minuteStart = floorMinute(this.now());
    this.load();
  }

  /** Closes a minute at each minute's end until close(). */
  start(): void {
    const tick = () => {
      this.roll();
      this.timer = setTimeout(tick, floorMinute(this.now()) + MINUTE_MS - this.now());
      this.timer.unref();
    };
    this.timer = setTimeout(tick, this.minuteStart + MINUTE_MS - this.now());
    this.timer.unref();
  }

  close(): void {
    clearTimeout(this.timer);
    this.roll();
  }

  /** One answered request: its status and the time from arrival to answer. */
  record(app: string, status: number, ms: number): void {
    this.roll();
    let counts = this.counts.get(app);
    if (!counts) {
      counts = { requests: 0, errors: 0, latencies: [] };
      this.counts.set(app, counts);
    }
    counts.requests++;
    if (status >= 500) counts.errors++;
    if (counts.latencies.length < LATENCIES_PER_MINUTE) counts.latencies.push(ms);
    else {
      const slot = Math.floor(Math.random() * counts.requests);
      if (slot < LATENCIES_PER_MINUTE) counts.latencies[slot] = ms;
    }
  }

  /** The stored minutes since `sinceMs`, then the current minute as it stands. */
  query(sinceMs: number): UsageResponse {
    this.roll();
    const from = floorMinute(sinceMs);
    const current = this.minuteSamples(this.minuteStart, false);
    const recent = this.samples.filter((sample) => Date.parse(sample.time) >= from);
    return {
      stepSeconds: MINUTE_MS / 1000,
      since: new Date(sinceMs).toISOString(),
      samples: [...recent, ...current],
      costSince: this.costSince(sinceMs, current),
    };
  }

  /**
   * What each app cost since `sinceMs`: its cost now less its cost then, read from the last
   * sample that ended by then. A cost that went down means the app was deleted and deployed
   * again, so the new app's cost counts whole.
   */
  private costSince(sinceMs: number, current: UsageSample[]): { app: string; usd: number }[] {
    const totals = new Map<string, number>();
    const previous = new Map<string, number>();
    for (const sample of [...this.samples, ...current]) {
      const ended = Date.parse(sample.time) + MINUTE_MS;
      const before = previous.get(sample.app);
      previous.set(sample.app, sample.costUsd);
      if (ended <= sinceMs) continue;
      const increase = before === undefined ? sample.costUsd : sample.costUsd >= before ? sample.costUsd - before : sample.costUsd;
      totals.set(sample.app, (totals.get(sample.app) ?? 0) + increase);
    }
    return [...totals].map(([app, usd]) => ({ app, usd })).sort((a, b) => a.app.localeCompare(b.app));
  }

  /** Stores the minutes that ended since the last call. */
  private roll(): void {
    const minute = floorMinute(this.now());
    if (minute === this.minuteStart) return;
    const closed = this.minuteSamples(this.minuteStart, true);
    this.counts = new Map();
    this.minuteStart = minute;
    if (closed.length === 0) return;
    this.samples.push(...closed);
    this.persist(() => appendFileSync(this.file, closed.map((sample) => `${JSON.stringify(sample)}\n`).join('')));
    this.expire();
  }

  /**
   * One sample per app with something to tell in the minute starting at `start`. `closing`
   * marks the costs as seen, so the next minute reports only what changed after.
   */
  private minuteSamples(start: number, closing: boolean): UsageSample[] {
    const runners = this.sources.runners();
    const costs = new Map(this.sources.costs().map(({ app, usd }) => [app, usd]));
    const apps = new Set([...this.counts.keys(), ...[...runners].filter(([, count]) => count > 0).map(([app]) => app),
      ...[...costs].filter(([app, usd]) => usd !== (this.lastCost.get(app) ?? 0)).map(([app]) => app)]);
    const samples: UsageSample[] = [];
    for (const app of [...apps].sort()) {
      const counts = this.counts.get(app);
      const sorted = [...(counts?.latencies ?? [])].sort((a, b) => a - b);
      const costUsd = costs.get(app) ?? this.lastCost.get(app) ?? 0;
      samples.push({
        time: new Date(start).toISOString(),
        app,
        requests: counts?.requests ?? 0,
        errors: counts?.errors ?? 0,
        p50Ms: percentile(sorted, 0.5),
        p95Ms: percentile(sorted, 0.95),
        runners: runners.get(app) ?? 0,
        costUsd,
      });
      if (closing) this.lastCost.set(app, costUsd);
    }
    return samples;
  }

  private load(): void {
    if (!existsSync(this.file)) return;
    const oldest = this.now() - RETENTION_MS;
    let dropped = 0;
    for (const line of readFileSync(this.file, 'utf8').split('\n')) {
      const sample = parseSample(line);
      if (!sample) continue;
      if (Date.parse(sample.time) < oldest) {
        dropped++;
        continue;
      }
      this.samples.push(sample);
      this.lastCost.set(sample.app, sample.costUsd);
    }
    if (dropped > 0) this.rewrite();
  }

  /** Forgets samples older than a week; the file is rewritten once a day's worth has gone. */
  private expire(): void {
    const oldest = this.now() - RETENTION_MS;
    const keepFrom = this.samples.findIndex((sample) => Date.parse(sample.time) >= oldest);
    const drop = keepFrom < 0 ? this.samples.length : keepFrom;
    if (drop === 0) return;
    this.samples.splice(0, drop);
    this.expired += drop;
    if (this.expired > 1440) this.rewrite();
  }

  private rewrite(): void {
    this.persist(() => writeFileAtomic(this.file, this.samples.map((sample) => `${JSON.stringify(sample)}\n`).join(''), 0o600));
    this.expired = 0;
  }

  /** The history on disk is a convenience: a failed write (a full disk) is said, and serving goes on. */
  private persist(write: () => void): void {
    try {
      write();
    } catch (error) {
      reportFault(`saving the usage history to ${this.file}`, error);
    }
  }
}

function floorMinute(ms: number): number {
  return Math.floor(ms / MINUTE_MS) * MINUTE_MS;
}

/** Nearest-rank percentile of sorted values, rounded to 0.1 ms; null when there are none. */
function percentile(sorted: number[], fraction: number): number | null {
  if (sorted.length === 0) return null;
  const value = sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)]!;
  return Math.round(value * 10) / 10;
}

function parseSample(line: string): UsageSample | undefined {
  if (!line.trim()) return undefined;
  try {
    const sample = JSON.parse(line) as UsageSample;
    return typeof sample.app === 'string' && typeof sample.time === 'string' && typeof sample.costUsd === 'number' ? sample : undefined;
  } catch {
    // A line cut short when the runtime was killed mid-write.
    return undefined;
  }
}
