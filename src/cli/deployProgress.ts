/**
 * A deploy's progress as it happens, one line per step. On a terminal the running step has a
 * spinner and its elapsed time, and becomes "✓ step  1.2 s" when the next begins; elsewhere
 * (CI logs, pipes) each step is one plain line. Build and setup output is indented under its step.
 */
import type { AppDetail, DeployEvent } from '../shared/api';
import { fitToWidth, formatElapsed, type Style } from './format';

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const FRAME_MS = 80;

interface Output {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export class DeployProgress {
  private readonly interactive: boolean;
  private readonly deployStarted = Date.now();
  private step: { message: string; started: number } | undefined;
  private frame = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly warnings = new Set<string>();
  private cancelled = false;

  /** `label` names what is deployed ("examples/app.py") until the runtime names the app. */
  constructor(private readonly out: Output, private readonly style: Style, private readonly label: string) {
    this.interactive = out.isTTY === true;
  }

  handle(event: DeployEvent): void {
    switch (event.type) {
      case 'started':
        this.line(`Deploying ${this.style.bold(event.app ?? this.label)} ${this.style.dim(`(deploy ${event.deployId})`)}`);
        break;
      case 'step':
        this.endStep(true);
        this.step = { message: event.message, started: Date.now() };
        if (this.interactive) this.startSpinner();
        else this.out.write(`→ ${event.message}\n`);
        break;
      case 'log':
        this.line(this.style.dim(`    ${event.text}`));
        break;
      case 'warning':
        this.warnings.add(event.message);
        this.line(this.style.yellow(`! ${event.message}`));
        break;
      case 'done':
        this.endStep(true);
        this.summary(event.app);
        break;
      case 'failed':
        this.endStep(false);
        break;
    }
  }

  /** Stops the spinner, leaving the running step's line as it is (before an error message). */
  stop(): void {
    this.endStep(false);
  }

  /** Says the deploy is being cancelled, so the step that ends next reads as cancelled, not failed. */
  cancelling(): void {
    this.cancelled = true;
    this.line('Cancelling the deploy (Ctrl-C again to stop waiting)…');
  }

  private summary(app: AppDetail): void {
    const style = this.style;
    this.out.write(`${style.green('✓')} Deployed ${style.bold(app.name)} revision ${app.revision} in ${formatElapsed(Date.now() - this.deployStarted)}\n`);
    for (const warning of app.warnings.filter((text) => !this.warnings.has(text))) this.out.write(`${style.yellow(`! ${warning}`)}\n`);
    for (const endpoint of app.endpoints.filter((e) => !e.isHealth)) {
      this.out.write(`  ${style.dim('POST')} ${endpoint.url}\n`);
    }
    const first = app.endpoints.find((e) => !e.isHealth);
    if (first) this.out.write(`${style.dim(`  Call it with: kiln invoke ${app.name} ${first.path} --data '{...}'`)}\n`);
  }

  private endStep(succeeded: boolean): void {
    if (!this.step) return;
    this.stopSpinner();
    if (this.interactive) {
      const mark = succeeded ? this.style.green('✓') : this.style.red('✗');
      this.clearLine();
      this.out.write(`${mark} ${this.step.message}  ${this.style.dim(formatElapsed(Date.now() - this.step.started))}\n`);
    } else if (!succeeded) {
      this.out.write(`✗ ${this.step.message}: ${this.cancelled ? 'cancelled' : 'failed'} after ${formatElapsed(Date.now() - this.step.started)}\n`);
    }
    this.step = undefined;
  }

  /** Writes a full line, keeping the spinner line (if any) below it. */
  private line(text: string): void {
    if (this.timer) this.clearLine();
    this.out.write(`${text}\n`);
    if (this.timer) this.drawSpinner();
  }

  private startSpinner(): void {
    this.drawSpinner();
    this.timer = setInterval(() => {
      this.frame = (this.frame + 1) % SPINNER.length;
      this.clearLine();
      this.drawSpinner();
    }, FRAME_MS);
  }

  private stopSpinner(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private drawSpinner(): void {
    if (!this.step) return;
    const elapsed = formatElapsed(Date.now() - this.step.started);
    this.out.write(fitToWidth(`${this.style.cyan(SPINNER[this.frame]!)} ${this.step.message}  ${this.style.dim(elapsed)}`, this.out.columns));
  }

  private clearLine(): void {
    this.out.write('\r\x1b[2K');
  }
}
