/** What a configuration costs: the numbers every hover, hint, warning and the runtime's meter use. */
import type { MachineType } from './catalog';

/** The month the floor is quoted for, as cloud price sheets count it. */
export const HOURS_PER_MONTH = 730;

export interface Rate {
  perSecond: number;
  perHour: number;
}

/** The price of one runner: GPU types are billed per GPU, so num_gpus multiplies. */
export function runnerRate(type: MachineType, numGpus = 1): Rate {
  const perSecond = type.pricePerSecond * (type.kind === 'gpu' ? numGpus : 1);
  return { perSecond, perHour: perSecond * 3600 };
}

/** What min_concurrency runners cost in a month even with no traffic at all. */
export function monthlyFloor(rate: Rate, minConcurrency: number): number {
  return rate.perHour * HOURS_PER_MONTH * minConcurrency;
}

/** What keep_alive adds after each burst of traffic: a runner held idle that long. */
export function idleTailPerBurst(rate: Rate, keepAliveSeconds: number): number {
  return rate.perSecond * keepAliveSeconds;
}

/** The cost of runner-seconds already used, for the meter. */
export function costOfRunnerSeconds(rate: Rate, runnerSeconds: number): number {
  return rate.perSecond * runnerSeconds;
}

/**
 * Dollars with the precision the size calls for: cents from a dime up ("$0.59", "$2.00"),
 * two significant digits below ("$0.018"), three for per-second prices ("$0.000556"), and no
 * cents past a thousand ("$1,460").
 */
export function formatUsd(amount: number): string {
  const abs = Math.abs(amount);
  if (abs === 0) return '$0';
  if (abs >= 1000) return `$${Math.round(amount).toLocaleString('en-US')}`;
  if (abs >= 0.1) return `$${amount.toFixed(2)}`;
  if (abs >= 0.01) {
    const rounded = Number(amount.toPrecision(2));
    return Math.abs(rounded) >= 0.1 ? `$${rounded.toFixed(2)}` : `$${rounded}`;
  }
  // Below $0.000000005 nothing is left but "0.": drop the point with the zeros.
  return `$${Number(amount.toPrecision(3)).toFixed(8).replace(/\.?0+$/, '')}`;
}

/** Seconds as a person says them: "45 s", "5 min", "1 h 30 min", "2 d 4 h". */
export function formatDuration(totalSeconds: number): string {
  const s = Math.round(totalSeconds);
  if (s < 60) return `${s} s`;
  const units: [number, string][] = [[86400, 'd'], [3600, 'h'], [60, 'min'], [1, 's']];
  const parts: string[] = [];
  let rest = s;
  for (const [size, unit] of units) {
    const count = Math.floor(rest / size);
    if (count > 0) parts.push(`${count} ${unit}`);
    rest -= count * size;
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}
