/** The CLI's human output: tables, times, log lines, deploy progress and failure messages. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { describeFailure, splitTarget } from '../../src/cli/deploy';
import { DeployProgress } from '../../src/cli/deployProgress';
import {
  COLOURS, fitToWidth, formatClock, formatElapsed, formatLogRecord, formatTable, formatUsd, NO_COLOURS, relativeTime,
  runnerColumnWidth, styleFor, visibleLength,
} from '../../src/cli/format';
import { formatAppTable } from '../../src/cli/list';
import { parseAssignment } from '../../src/cli/secrets';
import type { AppDetail, AppSummary, LogRecord } from '../../src/shared/api';

describe('formatTable', () => {
  it('aligns columns on their widest cell, numbers on the right, with no trailing spaces', () => {
    const table = formatTable(['NAME', 'REV', 'URL'], [['hello', '12', 'http://a'], ['text-to-image', '3', 'http://b']], { alignRight: [1] });
    assert.equal(table, [
      'NAME           REV  URL',
      'hello           12  http://a',
      'text-to-image    3  http://b',
    ].join('\n'));
  });

  it('measures coloured cells by what shows', () => {
    const table = formatTable(['STATE', 'X'], [[COLOURS.green('live'), '1'], ['deploying', '2']]);
    assert.deepEqual(table.split('\n').map(visibleLength), [12, 12, 12]);
  });
});

describe('the app list', () => {
  it('shows NAME STATE REV MACHINE RUNNERS COST URL, sorted by name, costs in dollars', () => {
    const app = (name: string, costUsd: number, revision: number): AppSummary => ({
      name, state: 'live', revision, className: 'X', machineType: 'GPU-A100', runners: 1, url: `http://127.0.0.1:8411/${name}`,
      updatedAt: new Date().toISOString(), costUsd,
    });
    assert.equal(formatAppTable([app('text-to-image', 1.5, 12), app('hello', 0.0123, 3)], NO_COLOURS), [
      'NAME           STATE  REV  MACHINE   RUNNERS    COST  URL',
      'hello          live     3  GPU-A100        1  $0.012  http://127.0.0.1:8411/hello',
      'text-to-image  live    12  GPU-A100        1   $1.50  http://127.0.0.1:8411/text-to-image',
    ].join('\n'));
  });
});

describe('times and amounts', () => {
  const now = Date.parse('2025-06-01T12:00:00Z');
  it('says how long ago', () => {
    assert.equal(relativeTime('2025-06-01T11:59:58Z', now), 'just now');
    assert.equal(relativeTime('2025-06-01T11:59:15Z', now), '45s ago');
    assert.equal(relativeTime('2025-06-01T11:58:00Z', now), '2m ago');
    assert.equal(relativeTime('2025-06-01T09:00:00Z', now), '3h ago');
    assert.equal(relativeTime('2025-05-27T12:00:00Z', now), '5d ago');
    assert.equal(relativeTime('2025-01-02T12:00:00Z', now), '2025-01-02');
  });

  it('writes elapsed time at the precision it needs', () => {
    assert.equal(formatElapsed(850), '850 ms');
    assert.equal(formatElapsed(4_230), '4.2 s');
    assert.equal(formatElapsed(123_000), '2 min 3 s');
  });

  it('writes costs as dollars', () => {
    assert.equal(formatUsd(0.0123), '$0.012');
  });

  it('puts the date before the time only for another day', () => {
    const time = new Date(2025, 5, 1, 9, 5, 7, 42);
    assert.equal(formatClock(time.toISOString(), new Date(2025, 5, 1, 23, 0)), '09:05:07.042');
    assert.equal(formatClock(time.toISOString(), new Date(2025, 5, 2, 1, 0)), '2025-06-01 09:05:07.042');
  });
});

describe('log lines', () => {
  const at = new Date(2025, 5, 1, 9, 5, 7, 42);
  const record = (over: Partial<LogRecord>): LogRecord => ({
    seq: 1, time: at.toISOString(), app: 'hello', revision: 1, runner: 'r-abc123', stream: 'stdout', level: 'info', text: 'hi', ...over,
  });

  it('reads TIME RUNNER STREAM TEXT, the runtime standing in for a missing runner', () => {
    const records = [record({}), record({ runner: null, stream: 'system', text: 'Runner started' }), record({ stream: 'stderr', text: 'oops' })];
    const width = runnerColumnWidth(records);
    assert.deepEqual(records.map((r) => formatLogRecord(r, NO_COLOURS, width, at)), [
      '09:05:07.042 r-abc123 stdout hi',
      '09:05:07.042 runtime  system Runner started',
      '09:05:07.042 r-abc123 stderr oops',
    ]);
  });

  it('marks stderr in red on a terminal', () => {
    assert.ok(formatLogRecord(record({ stream: 'stderr' }), COLOURS, 8, at).includes(COLOURS.red('stderr')));
  });

  it('colours only terminals, and never with NO_COLOR', () => {
    assert.equal(styleFor({ isTTY: true }, {}), COLOURS);
    assert.equal(styleFor({ isTTY: false }, {}), NO_COLOURS);
    assert.equal(styleFor({ isTTY: true }, { NO_COLOR: '1' }), NO_COLOURS);
  });

  it('cuts a status line to the terminal width', () => {
    assert.equal(fitToWidth('abcdefghij', 6), 'abcd…');
    assert.equal(fitToWidth('abc', 6), 'abc');
  });
});

describe('deploy output', () => {
  const app = {
    name: 'hello', revision: 2, warnings: ['keep_alive is 0'],
    endpoints: [
      { path: '/', url: 'http://127.0.0.1:8411/hello', isHealth: false },
      { path: '/health', url: 'http://127.0.0.1:8411/hello/health', isHealth: true },
    ],
  } as unknown as AppDetail;

  it('prints one plain line per step, indented build output and a summary when not on a terminal', () => {
    let text = '';
    const progress = new DeployProgress({ write: (chunk: string) => { text += chunk; } }, NO_COLOURS, 'app.py');
    progress.handle({ type: 'started', deployId: 'd-1', app: 'hello' });
    progress.handle({ type: 'step', step: 'environment', message: 'Building the environment' });
    progress.handle({ type: 'log', step: 'environment', text: 'Collecting requests' });
    progress.handle({ type: 'step', step: 'inspect', message: 'Importing app.py' });
    progress.handle({ type: 'done', app });
    const lines = text.split('\n');
    assert.deepEqual(lines.slice(0, 4), [
      'Deploying hello (deploy d-1)',
      '→ Building the environment',
      '    Collecting requests',
      '→ Importing app.py',
    ]);
    assert.match(lines[4]!, /^✓ Deployed hello revision 2 in \d+ ms$/);
    assert.deepEqual(lines.slice(5), [
      '! keep_alive is 0',
      '  POST http://127.0.0.1:8411/hello',
      "  Call it with: kiln invoke hello / --data '{...}'",
      '',
    ]);
  });

  it('redraws the running step on a terminal and ticks it off when the next begins', () => {
    let text = '';
    const progress = new DeployProgress({ write: (chunk: string) => { text += chunk; }, isTTY: true, columns: 80 }, NO_COLOURS, 'app.py');
    progress.handle({ type: 'step', step: 'validate', message: 'Checking the configuration' });
    progress.handle({ type: 'step', step: 'inspect', message: 'Importing app.py' });
    progress.handle({ type: 'failed', step: 'inspect', error: { message: 'boom' } });
    // What a terminal shows: each line as it was last redrawn after "clear line".
    const finalLines = text.split('\n').map((line) => line.split('\x1b[2K').pop()!);
    assert.match(finalLines[0]!, /^✓ Checking the configuration {2}\d+ ms$/);
    assert.match(finalLines[1]!, /^✗ Importing app.py {2}\d+ ms$/);
  });

  it('points a failure at the file and line, relative to the working folder', () => {
    const root = path.resolve('examples');
    assert.equal(describeFailure({ message: 'SyntaxError: expected ":"', file: 'app.py', line: 7 }, root, 'app.py'),
      `kiln: deploy failed: ${path.join('examples', 'app.py')}:7: SyntaxError: expected ":"\n`);
    assert.equal(describeFailure({
      message: 'The configuration has 1 error.', problems: [{ code: 'unknown-machine-type', severity: 'error', message: 'Unknown machine type', line: 5 }],
    }, root, 'app.py'), [
      'kiln: deploy failed: The configuration has 1 error.',
      `  ${path.join('examples', 'app.py')}:5: error unknown-machine-type Unknown machine type`,
      '',
    ].join('\n'));
  });

  it('splits FILE::Class', () => {
    assert.deepEqual(splitTarget('app.py::TextToImage'), { file: 'app.py', className: 'TextToImage' });
    assert.deepEqual(splitTarget('app.py'), { file: 'app.py' });
  });
});

describe('secret assignments', () => {
  it('splits at the first "=" and never echoes a value in an error', () => {
    assert.deepEqual(parseAssignment('HF_TOKEN=a=b'), ['HF_TOKEN', 'a=b']);
    assert.throws(() => parseAssignment('hf_secretvalue'), (error: Error) => !error.message.includes('hf_secretvalue'));
    assert.throws(() => parseAssignment('1BAD=x'), /"1BAD" is not a valid secret name/);
  });
});
