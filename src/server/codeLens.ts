/** Lenses above each App (Deploy, and what it costs) and each endpoint (Invoke). */
import type { CodeLens } from 'vscode-languageserver';
import { formatUsd, monthlyFloor, runnerRate } from '../appconfig';
import { type AppTarget, COMMANDS, type EndpointTarget } from '../shared/protocol';
import type { Analysis } from './analysis';
import { pricedMachineType } from './pricing';

export function codeLensesFor(analysis: Analysis): CodeLens[] {
  const uri = analysis.document.uri;
  const lenses: CodeLens[] = [];
  for (const { app, validation } of analysis.apps) {
    const { settings } = validation;
    const target: AppTarget = { uri, className: app.className, appName: settings.name };
    const at = { start: app.range.start, end: app.range.start };
    lenses.push({ range: at, command: { title: '$(cloud-upload) Deploy', command: COMMANDS.deploy, arguments: [target] } });

    const type = pricedMachineType(app, settings);
    if (type) {
      const rate = runnerRate(type, settings.numGpus);
      const gpus = type.kind === 'gpu' && settings.numGpus > 1 ? ` × ${settings.numGpus}` : '';
      const floor = settings.minConcurrency > 0 ? `${formatUsd(monthlyFloor(rate, settings.minConcurrency))}/month floor` : 'scales to zero';
      lenses.push({ range: at, command: { title: `${type.name}${gpus} · ${formatUsd(rate.perHour)}/h per runner · ${floor}`, command: '' } });
    }

    settings.endpoints.forEach((endpoint) => {
      const extracted = app.endpoints.find((candidate) => candidate.path === endpoint.path);
      if (!extracted) return;
      const endpointTarget: EndpointTarget = { ...target, path: endpoint.path, parameters: endpoint.parameters };
      lenses.push({
        range: { start: extracted.range.start, end: extracted.range.start },
        command: { title: `$(play) Invoke ${endpoint.path}`, command: COMMANDS.invoke, arguments: [endpointTarget] },
      });
    });
  }
  return lenses;
}
