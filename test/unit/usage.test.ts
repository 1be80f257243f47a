/**
 * The runtime's usage history (what the dashboard charts and "cost today" reads), minute by
 * minute on a clock the test moves, stored in a real file and read back as a restarted runtime
 * would.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { UsageHistory } from '../../src/runtime/observability/usage';

const folder = mkdtempSync(path.join(os.tmpdir(), 'kiln-usage-'));
after(() => rmSync(folder, { recursive: true, force: true }));

const MINUTE = 60_000;
const START = Date.UTC(2026, 0, 5, 10, 0, 0);

function history(file: string, clock: { now: number }, world: { runners: Record<string, number>; costs: Record<string, number> }) {
  return new UsageHistory(file, {
    runners: () => new Map(Object.entries(world.runners)),
    costs: () => Object.entries(world.costs).map(([app, usd]) => ({ app, usd })),
  }, () => clock.now);
}

describe('usage history', () => {
  it('keeps requests, latency percentiles, runners and cost per app and minute, the current minute last', () => {
    const clock = { now: START + 5_000 };
    const world = { runners: { hello: 1 }, costs: { hello: 0.001 } };
    const usage = history(path.join(folder, 'a.jsonl'), clock, world);
    for (const ms of [10, 20, 30, 40, 500]) usage.record('hello', 200, ms);
    usage.record('hello', 503, 5);
    // The minute closes on the clock (the runtime's timer reads it then), before the cost moves on.
    clock.now += MINUTE;
    usage.query(START);
    world.costs.hello = 0.002;
    usage.record('hello', 200, 15);
    const { samples, stepSeconds } = usage.query(START - 60 * MINUTE);
    assert.equal(stepSeconds, 60);
    assert.deepEqual(samples, [
      { time: new Date(START).toISOString(), app: 'hello', requests: 6, errors: 1, p50Ms: 20, p95Ms: 500, runners: 1, costUsd: 0.001 },
      { time: new Date(START + MINUTE).toISOString(), app: 'hello', requests: 1, errors: 0, p50Ms: 15, p95Ms: 15, runners: 1, costUsd: 0.002 },
    ]);
  });

  it('skips minutes with nothing to tell, and counts the cost since a time across a restart and a delete', () => {
    const file = path.join(folder, 'b.jsonl');
    const clock = { now: START };
    const world = { runners: { hello: 1 } as Record<string, number>, costs: { hello: 0.010 } as Record<string, number> };
    let usage = history(file, clock, world);
    clock.now += MINUTE;
    usage.query(START);
    // An idle hour: no runners, no new cost, nothing stored.
    world.runners = {};
    clock.now += MINUTE;
    usage.query(START);
    clock.now += 60 * MINUTE;
    assert.equal(usage.query(START).samples.length, 1, 'the idle minutes are not stored');
    const midday = clock.now;

    // The runtime restarts and reads the file; the app costs more, then is deleted and deployed again.
    usage.close();
    usage = history(file, clock, world);
    world.runners = { hello: 1 };
    world.costs.hello = 0.015;
    clock.now += MINUTE;
    usage.query(START);
    world.costs.hello = 0.001;
    clock.now += MINUTE;
    const since = usage.query(midday).costSince;
    assert.equal(since.length, 1);
    assert.ok(Math.abs(since[0]!.usd - 0.006) < 1e-12, `0.005 more, then 0.001 of the new app: ${since[0]!.usd}`);
    assert.ok(Math.abs(usage.query(START - MINUTE).costSince[0]!.usd - 0.016) < 1e-12, 'from the start: the first app\'s whole cost (0.015) and the new one\'s (0.001)');
  });
});
