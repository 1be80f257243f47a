/**
 * The export's code is bundled on its own (dist/export.js) and loaded when an export runs: the
 * YAML writer and the Kubernetes and Knative validators are most of its size, and neither the
 * CLI nor the extension should parse them on every start for a command most runs never use.
 */
import path from 'node:path';
import type * as Exporter from './index';

export function loadExporter(): typeof Exporter {
  return require(path.join(__dirname, 'export.js')) as typeof Exporter;
}
