/**
 * The messages between the runtime and a Python worker (src/runtime/python/kiln_worker.py).
 *
 * Transport: the worker reads frames from fd 3 and writes frames to fd 4. A frame is a 4-byte
 * unsigned big-endian length followed by that many bytes of UTF-8 JSON (one object). stdout and
 * stderr stay the user's: every line printed there becomes a log record.
 *
 * Launch: `python -u -X utf8 kiln_worker.py --mode template|serve --app-file FILE [--class NAME]`
 * with the folder holding `fal/` and `kiln_worker.py` first on PYTHONPATH and the app's own
 * folder on sys.path. Environment the worker reads: KILN_FILES_DIR and KILN_FILES_URL (where
 * save_image/save_file write and the URL prefix they return), KILN_RUNNER_ID, KILN_APP_NAME,
 * KILN_MAX_MULTIPLEXING (serve mode; the thread-pool size for sync handlers).
 */
import type { AppInput } from '../../appconfig/input';

/** A JSON Schema object describing an endpoint's request body. */
export type JsonSchema = Record<string, unknown>;

/** Where in the user's code a failure points. */
export interface SourceError {
  /** Python exception type name, e.g. "SyntaxError", "ModuleNotFoundError", "ValueError". */
  type: string;
  message: string;
  /** The user's file and 1-based line closest to the failure (not a frame inside fal or the harness). */
  file: string | null;
  line: number | null;
  /** The full formatted traceback; it goes to the logs, not into the one-line message. */
  traceback: string;
}

// ---- worker -> runtime -------------------------------------------------------------------

/** A template's first answer (and, for a file with several classes, its only one). Option values use these JSON encodings: `fal.Volume("n")` as
 * `{"$volume": "n"}`, anything not JSON-representable as `{"$repr": "<repr()>"}`. */
export interface InspectedEndpoint {
  path: string;
  functionName: string;
  parameters: AppInput['endpoints'][number]['parameters'];
  isAsync: boolean;
  /** 1-based line of the `def`. */
  line: number;
  /** Request-body schema from the type hints (or the single pydantic model), `$defs` inlined. */
  inputSchema: JsonSchema;
  /** Present when the annotation names a pydantic model: the harness validates with it. */
  pydanticModel?: string;
}

export interface InspectedApp {
  className: string;
  /** 1-based line of the `class` statement. */
  line: number;
  /** The name the app gets by default: `name=` keyword, else the class name in kebab-case. */
  defaultName: string;
  options: { key: string; value: unknown; source: 'keyword' | 'attribute' }[];
  endpoints: InspectedEndpoint[];
  methods: string[];
}

export type WorkerMessage =
  | { type: 'inspect'; file: string; apps: InspectedApp[] }
  /** Serve mode: the app imported and its class was found; setup() starts now. */
  | { type: 'setup-started' }
  /** Serve mode: setup (and nothing else) finished; the worker now takes invokes. */
  | { type: 'ready'; pid: number; setupMs: number; python: string }
  /** Import or setup failed (inspect or serve mode); the worker exits 1 after sending it. */
  | { type: 'failed'; phase: 'import' | 'find-class' | 'setup'; error: SourceError }
  | InvokeResult;

export type InvokeResult =
  | { type: 'result'; id: string; ok: true; output: unknown; executionMs: number }
  | {
      type: 'result';
      id: string;
      ok: false;
      /** 422 for field errors, an AppException's own status, 499 cancelled, 503 GPU fault, else 500. */
      status: number;
      /** fal's body: a string, or for 422 a list of `{loc, msg, type}`. */
      detail: unknown;
      /** Exception type name and traceback for the logs (absent for 499). */
      errorType?: string;
      traceback?: string;
      /** True when the runner must be replaced (CUDA out of memory or another GPU fault). */
      fatal?: boolean;
      executionMs: number;
    };

// ---- runtime -> worker -------------------------------------------------------------------

export type RuntimeMessage =
  | { type: 'invoke'; id: string; path: string; input: Record<string, unknown> }
  | { type: 'cancel'; id: string }
  /** Finish in-flight requests (up to `graceMs`), run teardown, exit 0. EOF on fd 3 means the same. */
  | { type: 'shutdown'; graceMs: number }
  | TemplateOrder;

// ---- templates (template mode, kiln_harness/template.py) ---------------------------------

/**
 * What the runtime asks of a template. A forked runner connects to `socket` three times, each
 * connection opened by the line `KILN-RUNNER <token> <frames|stdout|stderr>`, then speaks as a
 * serving worker does; `env` is applied over the template's environment before setup().
 */
export type TemplateOrder =
  /** Run setup() here once, so runners start with it done (CPU runners only). */
  | { type: 'snapshot' }
  | { type: 'fork'; runner: string; token: string; socket: string; env: Record<string, string> }
  | { type: 'kill'; runner: string; signal: NodeJS.Signals };

/** What a template says, after its `inspect` answer. */
export type TemplateMessage =
  | WorkerMessage
  /** Whether the app's imports left it safe to fork (no thread, open file or CUDA), and why not; its own pid as it sees it. */
  | { type: 'template'; forkable: boolean; reason: string | null; pid: number }
  | { type: 'snapshot'; ok: boolean; reason: string | null; setupMs: number }
  /** `pid` as the template sees it (inside the sandbox's process namespace, when there is one). */
  | { type: 'forked'; runner: string; pid: number }
  | { type: 'runner-exit'; runner: string; code: number | null; signal: NodeJS.Signals | null };

/**
 * What is wrong with a frame from a worker, in the fields the runtime reads, or null when it is
 * a message the runtime can act on (types it does not know are left for it to ignore).
 */
export function workerMessageProblem(message: unknown): string | null {
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return 'a frame that is not a JSON object';
  const frame = message as Record<string, unknown>;
  const number = (key: string) => typeof frame[key] === 'number' && Number.isFinite(frame[key]);
  switch (frame.type) {
    case 'result':
      if (typeof frame.id !== 'string' || typeof frame.ok !== 'boolean' || !number('executionMs')) return 'a result frame without a string id, ok and executionMs';
      if (!frame.ok && !(Number.isInteger(frame.status) && (frame.status as number) >= 100 && (frame.status as number) <= 599)) return 'a failed result whose status is not an HTTP status';
      return null;
    case 'failed': {
      const error = frame.error as Record<string, unknown> | null;
      return typeof frame.phase === 'string' && typeof error === 'object' && error !== null && typeof error.message === 'string'
        ? null : 'a failed frame without a phase and an error message';
    }
    case 'ready':
      return number('pid') && number('setupMs') && typeof frame.python === 'string' ? null : 'a ready frame without pid, setupMs and python';
    case 'inspect':
      return Array.isArray(frame.apps) ? null : 'an inspect frame without a list of apps';
    case 'template':
      return typeof frame.forkable === 'boolean' && (frame.reason === null || typeof frame.reason === 'string') && Number.isInteger(frame.pid)
        ? null : 'a template frame without forkable, reason and pid';
    case 'snapshot':
      return typeof frame.ok === 'boolean' && number('setupMs') && (frame.reason === null || typeof frame.reason === 'string') ? null : 'a snapshot frame without ok, reason and setupMs';
    case 'forked':
      return typeof frame.runner === 'string' && Number.isInteger(frame.pid) ? null : 'a forked frame without a runner and a pid';
    case 'runner-exit':
      return typeof frame.runner === 'string' && (frame.code === null || Number.isInteger(frame.code)) && (frame.signal === null || typeof frame.signal === 'string')
        ? null : 'a runner-exit frame without a runner, code and signal';
    default:
      return typeof frame.type === 'string' ? null : 'a frame without a type';
  }
}
