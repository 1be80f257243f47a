/** Lenses above each App (Deploy, and what it costs) and each endpoint (Invoke). */
import type { CodeLens } from 'vscode-languageserver';
import { formatUsd, monthlyFloor, runnerRate } from '../appconfig';
import { type AppTarget, COMMANDS, type DocumentApp, type EndpointTarget } from '../shared/protocol';
import type { Analysis } from './analysis';
import { pricedMachineType } from './pricing';

/** The Apps of a document and their endpoints, as the lenses and the client's commands name them. */
export function documentApps(analysis: Analysis): DocumentApp[] {
  const uri = analysis.document.uri;
  return analysis.apps.map(({ app, validation }) => {
    const { settings } = validation;
    const target: AppTarget = { uri, className: app.className, appName: settings.name };
    const endpoints = settings.endpoints
      .filter((endpoint) => app.endpoints.some((candidate) => candidate.path === endpoint.path))
      .map((endpoint): EndpointTarget => ({ ...target, path: endpoint.path, parameters: endpoint.parameters }));
    return { ...target, endpoints };
  });
}

export function codeLensesFor(analysis: Analysis): CodeLens[] {
  const lenses: CodeLens[] = [];
  const targets = documentApps(analysis);
  analysis.apps.forEach(({ app, validation }, index) => {
    const { settings } = validation;
    const { uri, className, appName, endpoints } = targets[index]!;
    const target: AppTarget = { uri, className, appName };
    const at = { start: app.range.start, end: app.range.start };
    lenses.push({ range: at, command: { title: '$(cloud-upload) Deploy', command: COMMANDS.deploy, arguments: [target] } });

    const type = pricedMachineType(app, settings);
    if (type) {
      const rate = runnerRate(type, settings.numGpus);
      const gpus = type.kind === 'gpu' && settings.numGpus > 1 ? ` × ${settings.numGpus}` : '';
      const floor = settings.minConcurrency > 0 ? `${formatUsd(monthlyFloor(rate, settings.minConcurrency))}/month floor` : 'scales to zero';
      lenses.push({ range: at, command: { title: `${type.name}${gpus} · ${formatUsd(rate.perHour)}/h per runner · ${floor}`, command: '' } });
    }

    for (const endpointTarget of endpoints) {
      const extracted = app.endpoints.find((candidate) => candidate.path === endpointTarget.path)!;
      lenses.push({
        range: { start: extracted.range.start, end: extracted.range.start },
        command: { title: `$(play) Invoke ${endpointTarget.path}`, command: COMMANDS.invoke, arguments: [endpointTarget] },
      });
    }
  });
  return lenses;
}
