/**
 * Logs: every line a runner prints becomes a record (time, app, revision, runner, stream, level,
 * text), secrets redacted before it is stored. Stored per app as JSON lines with size-based
 * rotation, kept in a recent-records ring for fast tails, and pushed to live followers.
 */
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { LogLevel, LogQuery, LogRecord, LogStream } from '../../shared/api';
import { reportFault } from '../faults';

const ROTATE_BYTES = 10 * 1024 * 1024;
const ROTATED_FILES = 3;
const RING_SIZE = 5_000;

export type NewLogRecord = Omit<LogRecord, 'seq' | 'time' | 'level'> & { level?: LogLevel };

const LEVEL_PREFIX = /^\W{0,2}(DEBUG|INFO|WARN(?:ING)?|ERROR|CRITICAL|FATAL)\b/i;

/** The level a line announces ("WARNING:root:...", "[ERROR] ..."); tracebacks are errors. */
export function levelOf(text: string, stream: LogStream): LogLevel {
  const match = LEVEL_PREFIX.exec(text);
  if (match) {
    const word = match[1]!.toUpperCase();
    if (word === 'DEBUG') return 'debug';
    if (word === 'INFO') return 'info';
    if (word.startsWith('WARN')) return 'warning';
    return 'error';
  }
  if (stream === 'stderr' && /^(Traceback \(most recent call last\)|\w+(Error|Exception): )/.test(text)) return 'error';
  return 'info';
}

/** "10m", "2h", "30s", "1d" back from now, or an ISO time. */
export function parseSince(since: string, now = Date.now()): number {
  const relative = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(since.trim());
  if (relative) {
    const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
    return now - Number(relative[1]) * unit;
  }
  const time = Date.parse(since);
  if (Number.isNaN(time)) throw new Error(`"${since}" is not a time: use a duration like 10m, 2h, 1d or an ISO time`);
  return time;
}

export interface LogFilter {
  afterSeq?: number;
  sinceMs?: number;
  runner?: string;
  search?: string;
}

export function toFilter(query: LogQuery): LogFilter {
  return {
    ...(query.after !== undefined ? { afterSeq: query.after } : {}),
    ...(query.since ? { sinceMs: parseSince(query.since) } : {}),
    ...(query.runner ? { runner: query.runner } : {}),
    ...(query.search ? { search: query.search.toLowerCase() } : {}),
  };
}

function matches(record: LogRecord, filter: LogFilter): boolean {
  if (filter.afterSeq !== undefined && record.seq <= filter.afterSeq) return false;
  if (filter.runner && record.runner !== filter.runner) return false;
  if (filter.sinceMs !== undefined && Date.parse(record.time) < filter.sinceMs) return false;
  if (filter.search && !record.text.toLowerCase().includes(filter.search)) return false;
  return true;
}

interface AppLog {
  file: string;
  stream: WriteStream;
  bytes: number;
  seq: number;
  ring: LogRecord[];
  /** False once the ring has dropped records, so older ones must come from the files. */
  ringIsComplete: boolean;
}

interface Follower {
  filter: LogFilter;
  listener: (record: LogRecord) => void;
}

export class LogStore {
  private readonly apps = new Map<string, AppLog>();
  /** Kept apart from the files: following an app that has written nothing yet creates nothing. */
  private readonly followers = new Map<string, Set<Follower>>();
  /**
   * The last seq of each app deleted since the runtime started: an app deployed again under the
   * same name numbers on from there, so a follower resuming after a seq misses none of its lines.
   */
  private readonly deletedSeq = new Map<string, number>();

  /** `redact` takes out what must never be stored: the secrets runners receive. */
  constructor(private readonly dir: string, private readonly redact: (text: string) => string) {
    mkdirSync(dir, { recursive: true });
  }

  private fileOf(app: string): string {
    return path.join(this.dir, `${app}.jsonl`);
  }

  private open(app: string): AppLog {
    let log = this.apps.get(app);
    if (log) return log;
    const file = this.fileOf(app);
    const bytes = existsSync(file) ? statSync(file).size : 0;
    log = {
      file,
      stream: openLogFile(file),
      bytes,
      seq: bytes > 0 ? lastSeq(file) : this.deletedSeq.get(app) ?? 0,
      ring: [],
      ringIsComplete: bytes === 0,
    };
    this.apps.set(app, log);
    return log;
  }

  append(entry: NewLogRecord): LogRecord {
    const log = this.open(entry.app);
    const text = this.redact(entry.text);
    const record: LogRecord = {
      seq: ++log.seq,
      time: new Date().toISOString(),
      app: entry.app,
      revision: entry.revision,
      runner: entry.runner,
      stream: entry.stream,
      level: entry.level ?? levelOf(text, entry.stream),
      text,
    };
    const line = `${JSON.stringify(record)}\n`;
    log.stream.write(line);
    log.bytes += Buffer.byteLength(line);
    log.ring.push(record);
    if (log.ring.length > RING_SIZE) {
      log.ring.splice(0, log.ring.length - RING_SIZE);
      log.ringIsComplete = false;
    }
    for (const follower of this.followers.get(entry.app) ?? []) {
      if (matches(record, follower.filter)) follower.listener(record);
    }
    if (log.bytes > ROTATE_BYTES) this.rotate(log);
    return record;
  }

  private rotate(log: AppLog): void {
    log.stream.end();
    for (let index = ROTATED_FILES - 1; index >= 1; index--) {
      const from = `${log.file}.${index}`;
      if (existsSync(from)) renameSync(from, `${log.file}.${index + 1}`);
    }
    renameSync(log.file, `${log.file}.1`);
    log.stream = openLogFile(log.file);
    log.bytes = 0;
  }

  /** Records matching the query, oldest first; at most `tail` of the newest when given. */
  async query(app: string, query: LogQuery): Promise<LogRecord[]> {
    const filter = toFilter(query);
    const tail = query.tail ?? Infinity;
    if (tail === 0) return [];
    const log = this.apps.get(app);
    const fromRing = log?.ring.filter((record) => matches(record, filter)) ?? [];
    if (log && (log.ringIsComplete || fromRing.length >= tail)) return fromRing.slice(-tail);
    const found: LogRecord[] = [];
    const files = [...Array.from({ length: ROTATED_FILES }, (_, index) => `${this.fileOf(app)}.${ROTATED_FILES - index}`), this.fileOf(app)];
    for (const file of files.filter((candidate) => existsSync(candidate))) {
      const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
      for await (const line of lines) {
        const record = parseRecord(line);
        if (record && matches(record, filter)) {
          found.push(record);
          if (found.length > tail * 2 && tail !== Infinity) found.splice(0, found.length - tail);
        }
      }
    }
    return found.slice(-tail);
  }

  follow(app: string, query: LogQuery, listener: (record: LogRecord) => void): () => void {
    const follower: Follower = { filter: toFilter({ ...query, since: undefined, after: undefined }), listener };
    const followers = this.followers.get(app) ?? new Set();
    followers.add(follower);
    this.followers.set(app, followers);
    return () => {
      followers.delete(follower);
      if (followers.size === 0) this.followers.delete(app);
    };
  }

  /** Forgets an app's logs; its followers stay, so a new app of the same name is followed. */
  delete(app: string): void {
    const log = this.apps.get(app);
    const seq = log?.seq ?? (existsSync(this.fileOf(app)) ? lastSeq(this.fileOf(app)) : 0);
    if (seq > 0) this.deletedSeq.set(app, seq);
    log?.stream.end();
    this.apps.delete(app);
    for (let index = 0; index <= ROTATED_FILES; index++) {
      rmSync(index === 0 ? this.fileOf(app) : `${this.fileOf(app)}.${index}`, { force: true });
    }
  }

  close(): void {
    for (const log of this.apps.values()) log.stream.end();
  }
}

/** An app's log file, appended to; a write that fails (a full disk) is reported, not thrown at the runtime. */
function openLogFile(file: string): WriteStream {
  const stream = createWriteStream(file, { flags: 'a' });
  stream.on('error', (error) => reportFault(`writing ${file}`, error));
  return stream;
}

function parseRecord(line: string): LogRecord | undefined {
  try {
    return JSON.parse(line) as LogRecord;
  } catch {
    // A line cut short when the runtime was killed mid-write.
    return undefined;
  }
}

function lastSeq(file: string): number {
  const text = readFileSync(file, 'utf8');
  const lines = text.trimEnd().split('\n');
  for (let index = lines.length - 1; index >= 0; index--) {
    const record = parseRecord(lines[index]!);
    if (record) return record.seq;
  }
  return 0;
}
