/** Prices after machine_type, durations after keep_alive, the floor after min_concurrency. */
import { type InlayHint, InlayHintKind } from 'vscode-languageserver';
import { findMachineType, formatDuration, formatUsd, monthlyFloor, runnerRate } from '../appconfig';
import { type Range, rangeContains } from '../pyparse';
import type { Analysis } from './analysis';
import { pricedMachineType } from './pricing';

const hint = (range: Range, label: string): InlayHint =>
  ({ position: range.end, label, kind: InlayHintKind.Type, paddingLeft: true });

export function inlayHintsFor(analysis: Analysis, visible: Range): InlayHint[] {
  const hints: InlayHint[] = [];
  for (const { app, validation } of analysis.apps) {
    const { settings } = validation;
    for (const option of app.options) {
      if (!rangeContains(visible, option.value.range.start)) continue;
      const value = option.value.value;
      if (option.key === 'machine_type') {
        for (const part of option.value.items ?? [option.value]) {
          const type = typeof part.value === 'string' ? findMachineType(part.value) : undefined;
          if (type) hints.push(hint(part.range, `${formatUsd(runnerRate(type, settings.numGpus).perHour)}/h`));
        }
      } else if (option.key === 'keep_alive' && typeof value === 'number' && value === settings.keepAlive && value >= 60) {
        hints.push(hint(option.value.range, formatDuration(value)));
      } else if (option.key === 'min_concurrency' && typeof value === 'number' && value === settings.minConcurrency && value > 0) {
        const type = pricedMachineType(app, settings);
        if (type) hints.push(hint(option.value.range, `${formatUsd(monthlyFloor(runnerRate(type, settings.numGpus), value))}/month floor`));
      }
    }
  }
  return hints;
}
