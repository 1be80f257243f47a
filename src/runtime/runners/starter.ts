/**
 * How the runners of one revision start: forked from its warm template when the app's imports
 * allow it (with setup() already done when the app asks for a snapshot), else as fresh Python
 * processes. The starter owns the template: it adopts the one the deploy inspected with, starts
 * one for a revision restored after a restart, starts a new one when it dies, and stops it when
 * the revision stops.
 */
import type { StartMode, StartsInfo } from '../../shared/api';
import type { RevisionRecord } from '../deploys/store';
import { reportFault } from '../faults';
import type { LogStore } from '../observability/logs';
import type { Placement } from './gpu';
import { type RunnerLauncher, templateSpecOf } from './launch';
import { exitDescription, type Runner } from './runner';
import { TemplateError, type TemplateProcess } from './template';

export interface RunnerStarterOptions {
  launcher: RunnerLauncher;
  logs: LogStore;
  revision: RevisionRecord;
  sourceDir: string;
  /** Whether runners are forked at all (`--no-templates` turns it off). */
  templates: boolean;
  /** Whether this host gives the app's runners GPUs: CUDA state cannot cross a fork, so no snapshot. */
  onGpus: boolean;
}

/** What the deploy output and the logs say about how runners start, when it is not the best way. */
export function describeStarts(starts: StartsInfo): string | null {
  if (!starts.reason) return null;
  return starts.mode === 'spawn' ? `Runners start as fresh processes: ${starts.reason}.` : `Runners are forked from the template; ${starts.reason}.`;
}

/** A template that lived this long before it died is not counted as dying quickly. */
const HEALTHY_TEMPLATE_MS = 60_000;
const MAX_RESTART_DELAY_MS = 30_000;

export class RunnerStarter {
  private template: TemplateProcess | undefined;
  private preparing: TemplateProcess | undefined;
  /** `warming` until the template (and its snapshot) is ready; runners meanwhile start afresh. */
  private state: 'warming' | 'forking' | 'spawning' | 'closed';
  private starts: StartsInfo;
  /** Templates in a row that died soon after they started. */
  private quickDeaths = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  /** Settles once the starter knows how runners start; rejects when the app fails in the template. */
  readonly prepared: Promise<StartsInfo>;

  constructor(private readonly options: RunnerStarterOptions, inspected?: TemplateProcess) {
    if (!options.templates) {
      inspected?.stop();
      this.state = 'spawning';
      this.starts = { mode: 'spawn', reason: null };
      this.prepared = Promise.resolve(this.starts);
      return;
    }
    this.state = 'warming';
    this.starts = { mode: 'spawn', reason: 'the template is starting' };
    this.prepared = this.prepare(inspected);
    this.prepared.catch(() => undefined);
  }

  get info(): StartsInfo {
    return this.starts;
  }

  /** A new runner: forked when the template is ready, else a fresh process. */
  start(id: string, placement: Extract<Placement, { kind: 'placed' }>, maxMultiplexing: number): Runner {
    const { launcher, revision, sourceDir } = this.options;
    const template = this.template;
    if (this.state === 'forking' && template && !template.exited) {
      return launcher.forkRunner(template, this.starts.mode === 'snapshot' ? 'snapshot' : 'fork', revision, id, placement, maxMultiplexing);
    }
    return launcher.spawnRunner(revision, sourceDir, id, placement, maxMultiplexing);
  }

  /** Stops the template. Runners forked from it end with it: call this once they have stopped. */
  close(): void {
    this.state = 'closed';
    clearTimeout(this.restartTimer);
    this.template?.stop();
    // One still being prepared may be deep in the app's setup(), deaf to a polite stop.
    this.preparing?.kill();
  }

  private launch(): Promise<TemplateProcess> {
    const { launcher, revision, sourceDir } = this.options;
    return launcher.startTemplate(templateSpecOf(revision, sourceDir));
  }

  /** The template being prepared, from its start (or adoption) until it settles. */
  private async candidate(template: TemplateProcess | Promise<TemplateProcess>): Promise<TemplateProcess> {
    this.preparing = await template;
    if (this.state === 'closed') this.preparing.kill();
    return this.preparing;
  }

  private async prepare(inspected?: TemplateProcess): Promise<StartsInfo> {
    try {
      let template = await this.candidate(inspected ?? this.launch());
      const verdict = await template.verdict;
      let reason: string | null = null;
      let mode: StartMode = 'fork';
      if (!verdict.forkable) return this.settle('spawn', verdict.reason, undefined);
      if (this.options.revision.config.snapshotAfterSetup) {
        if (this.options.onGpus) {
          reason = 'no snapshot after setup(): runners get GPUs here, and CUDA state cannot cross a fork';
        } else {
          const snapshot = await template.snapshot();
          if (snapshot.ok) {
            mode = 'snapshot';
            this.system(`setup() ran once in the template, in ${Math.round(snapshot.setupMs)} ms; runners start from it.`, 'info');
          } else {
            reason = `no snapshot after setup(): ${snapshot.reason}`;
            template.stop();
            template = await this.candidate(this.launch());
            const again = await template.verdict;
            if (!again.forkable) return this.settle('spawn', again.reason, undefined);
          }
        }
      }
      return this.settle(mode, reason, template);
    } catch (error) {
      // The app failed in the template (its import, or setup() for a snapshot): no runner will
      // do better, and the deploy reports it; a restored revision starts runners afresh, whose
      // failures the pool reports and retries.
      this.settle('spawn', `the template failed: ${(error as Error).message}`, undefined);
      throw error;
    }
  }

  private settle(mode: StartMode, reason: string | null, template: TemplateProcess | undefined): StartsInfo {
    this.preparing = undefined;
    this.starts = { mode, reason };
    if (this.state === 'closed') {
      template?.stop();
      return this.starts;
    }
    this.state = template ? 'forking' : 'spawning';
    const note = describeStarts(this.starts);
    if (note) this.system(note, 'warning');
    if (template) this.watch(template);
    return this.starts;
  }

  /** A template that dies takes its runners with it; a new one replaces it. */
  private watch(template: TemplateProcess): void {
    this.template = template;
    const startedAt = Date.now();
    template.exit.then(({ code, signal }) => {
      if (this.state === 'closed' || this.template !== template) return;
      this.state = 'warming';
      this.starts = { mode: 'spawn', reason: 'the template stopped, and a new one is starting' };
      // The first death in a while is replaced at once; templates that keep dying, ever more slowly.
      this.quickDeaths = Date.now() - startedAt > HEALTHY_TEMPLATE_MS ? 1 : this.quickDeaths + 1;
      const delay = this.quickDeaths <= 1 ? 0 : Math.min(MAX_RESTART_DELAY_MS, 1000 * 2 ** (this.quickDeaths - 2));
      this.system(`The template ${exitDescription(code, signal)}; runners forked from it ended with it. Starting a new one${delay ? ` in ${Math.round(delay / 1000)} s` : ''}; until then runners start afresh.`, 'error');
      this.restartTimer = setTimeout(() => {
        this.prepare().catch((error: Error) => this.system(`The new template failed: ${error instanceof TemplateError ? error.message : String(error)}`, 'error'));
      }, delay);
      this.restartTimer.unref();
    }).catch((error: unknown) => reportFault(`replacing template ${template.id}`, error));
  }

  private system(text: string, level: 'info' | 'warning' | 'error'): void {
    const { revision } = this.options;
    this.options.logs.append({ app: revision.app, revision: revision.revision, runner: null, stream: 'system', level, text });
  }
}
