/** Timed samples and their summary: every benchmark in this folder reports the same statistics. */

export interface Summary {
  samples: number;
  medianMs: number;
  p95Ms: number;
  p99Ms: number;
  minMs: number;
  maxMs: number;
  meanMs: number;
}

/** Nearest-rank percentile of ascending values. */
export function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(fraction * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    samples: sorted.length,
    medianMs: percentile(sorted, 0.5),
    p95Ms: percentile(sorted, 0.95),
    p99Ms: percentile(sorted, 0.99),
    minMs: sorted[0] ?? Number.NaN,
    maxMs: sorted.at(-1) ?? Number.NaN,
    meanMs: sorted.reduce((sum, value) => sum + value, 0) / (sorted.length || 1),
  };
}

/** How long to sample one measurement: warm-up runs first, then until the budget or the cap. */
export interface SamplingPlan {
  warmup: number;
  minSamples: number;
  maxSamples: number;
  /** Sampling stops after this much wall time once minSamples are in. */
  budgetMs: number;
}

/** One step of a measurement: only `run` is timed; `before` and `after` prepare and clean up. */
export interface Task {
  before?(): void;
  run(): void;
  after?(): void;
}

function timeOnce(task: Task): number {
  task.before?.();
  const started = performance.now();
  task.run();
  const elapsed = performance.now() - started;
  task.after?.();
  return elapsed;
}

/**
 * Times tasks side by side: warm-up rounds first, then rounds that run each task once, in turn,
 * until the plan is met. Taking turns keeps a measurement and its baseline under the same
 * conditions when the machine's load drifts.
 */
export function measureTogether<K extends string>(tasks: Record<K, Task>, plan: SamplingPlan): Record<K, Summary> {
  const names = Object.keys(tasks) as K[];
  for (let round = 0; round < plan.warmup; round++) names.forEach((name) => timeOnce(tasks[name]));
  const samples = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<K, number[]>;
  const deadline = performance.now() + plan.budgetMs;
  for (let round = 0; round < plan.maxSamples && (round < plan.minSamples || performance.now() < deadline); round++) {
    names.forEach((name) => samples[name].push(timeOnce(tasks[name])));
  }
  return Object.fromEntries(names.map((name) => [name, summarize(samples[name])])) as Record<K, Summary>;
}

export function measure(task: Task, plan: SamplingPlan): Summary {
  return measureTogether({ task }, plan).task;
}
