/** Hovers: what a setting means and what it costs with this app's machine type. */
import { type Hover, MarkupKind } from 'vscode-languageserver';
import {
  type AppConfig, describeHardware, findMachineType, formatDuration, formatUsd, HOURS_PER_MONTH, idleTailPerBurst,
  type MachineType, monthlyFloor, optionSpec, runnerRate,
} from '../appconfig';
import { type ExtractedOption, type Position, type Range, rangeContains } from '../pyparse';
import type { Analysis } from './analysis';
import { pricedMachineType } from './pricing';

const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;

/** The price table of one machine type; with an app's settings, also what they make it cost. */
export function machineTypeMarkdown(type: MachineType, settings?: AppConfig): string {
  const one = runnerRate(type);
  const lines = [
    `**${type.name}** · ${describeHardware(type)}`,
    '',
    type.kind === 'cpu' ? `${type.useCase} · priced at Kiln's CPU estimate` : type.useCase,
    '',
    '| | per second | per hour |',
    '|---|---:|---:|',
    `| ${type.kind === 'gpu' ? '1 GPU' : 'runner'} | ${formatUsd(one.perSecond)} | ${formatUsd(one.perHour)} |`,
  ];
  if (settings && type.kind === 'gpu' && settings.numGpus > 1) {
    const many = runnerRate(type, settings.numGpus);
    lines.push(`| ${settings.numGpus} GPUs (num_gpus) | ${formatUsd(many.perSecond)} | ${formatUsd(many.perHour)} |`);
  }
  if (settings) lines.push('', ...costLines(type, settings));
  return lines.join('\n');
}

function costLines(type: MachineType, settings: AppConfig): string[] {
  const rate = runnerRate(type, settings.numGpus);
  const lines: string[] = [];
  lines.push(settings.minConcurrency > 0
    ? `- Monthly floor: **${formatUsd(monthlyFloor(rate, settings.minConcurrency))}** (min_concurrency = ${settings.minConcurrency}: ${plural(settings.minConcurrency, 'runner')} always on, ${HOURS_PER_MONTH} h)`
    : '- Monthly floor: **$0** (min_concurrency = 0: scales to zero when idle)');
  lines.push(settings.keepAlive > 0
    ? `- Idle tail: up to **${formatUsd(idleTailPerBurst(rate, settings.keepAlive))}** per runner after each burst (keep_alive = ${formatDuration(settings.keepAlive)})`
    : '- Idle tail: none (keep_alive = 0 stops runners as soon as they are idle)');
  if (settings.maxConcurrency !== null) {
    lines.push(`- At full scale: **${formatUsd(rate.perHour * settings.maxConcurrency)}/h** (max_concurrency = ${settings.maxConcurrency})`);
  }
  return lines;
}

/** What the key's value means here, for the settings whose meaning is a cost. */
function settingMarkdown(option: ExtractedOption, settings: AppConfig, type: MachineType | undefined): string {
  const spec = optionSpec(option.key)!;
  const lines = [`**${option.key}**${spec.defaultText ? ` (default ${spec.defaultText})` : ''}`, '', spec.doc];
  if (!type) return lines.join('\n');
  lines.push('');
  const rate = runnerRate(type, settings.numGpus);
  const on = `on ${type.name}${settings.numGpus > 1 ? ` × ${settings.numGpus}` : ''} at ${formatUsd(rate.perHour)}/h`;
  switch (option.key) {
    case 'keep_alive':
      lines.push(settings.keepAlive > 0
        ? `Here: ${formatDuration(settings.keepAlive)}. Each runner may idle that long after its last request: up to **${formatUsd(idleTailPerBurst(rate, settings.keepAlive))}** per burst ${on}.`
        : 'Here: 0. Runners stop as soon as they are idle; every burst after a quiet spell starts cold.');
      break;
    case 'min_concurrency':
      lines.push(`Here: ${plural(settings.minConcurrency, 'runner')} always on: **${formatUsd(monthlyFloor(rate, settings.minConcurrency))}/month** with no traffic (${formatUsd(rate.perHour)}/h × ${HOURS_PER_MONTH} h × ${settings.minConcurrency}).`);
      break;
    case 'max_concurrency':
      if (settings.maxConcurrency !== null) {
        lines.push(`Here: at most ${plural(settings.maxConcurrency, 'runner')}: up to **${formatUsd(rate.perHour * settings.maxConcurrency)}/h** at full scale ${on}.`);
      }
      break;
    case 'num_gpus':
      lines.push(type.kind === 'gpu'
        ? `Here: ${settings.numGpus} × ${type.gpu} (${type.vramGb * settings.numGpus} GB VRAM in all): **${formatUsd(rate.perSecond)}/s**, **${formatUsd(rate.perHour)}/h** per runner.`
        : `${type.name} is a CPU machine type: num_gpus does not apply.`);
      break;
    case 'snapshot_after_setup':
      lines.push(!settings.snapshotAfterSetup
        ? 'Here: off. Runners are forked from a template that imported the app, then each runs setup().'
        : type.kind === 'gpu'
          ? `Here: no effect on ${type.name}: CUDA state cannot cross a fork, so each GPU runner runs setup() itself (a host without the GPU runs the app on CPU, with the snapshot).`
          : `Here: setup() runs once per revision; runners on ${type.name} start with its result. Seeds setup() sets stay; threads or files it leaves open make Kiln fall back to a setup() per runner, and say why.`);
      break;
    default:
      lines.pop();
  }
  return lines.join('\n');
}

function hover(markdown: string, range: Range): Hover {
  return { contents: { kind: MarkupKind.Markdown, value: markdown }, range };
}

export function hoverAt(analysis: Analysis, position: Position): Hover | undefined {
  for (const { app, validation } of analysis.apps) {
    if (!rangeContains(app.range, position)) continue;
    for (const option of app.options) {
      if (!optionSpec(option.key)) continue;
      if (rangeContains(option.keyRange, position)) {
        return hover(settingMarkdown(option, validation.settings, pricedMachineType(app, validation.settings)), option.keyRange);
      }
      if (option.key !== 'machine_type' || !rangeContains(option.value.range, position)) continue;
      const part = option.value.items?.find((item) => rangeContains(item.range, position)) ?? option.value;
      const type = typeof part.value === 'string' ? findMachineType(part.value) : undefined;
      if (type) return hover(machineTypeMarkdown(type, validation.settings), part.range);
    }
  }
  return undefined;
}
