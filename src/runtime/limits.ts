/**
 * The limits that keep one request, one app or one client from hanging a runner or stopping
 * the runtime: named settings with documented defaults (`node runtime.js --help`, the README's
 * "Limits"), each refused with a 4xx in fal's `{"detail": ...}` shape.
 */

export interface RuntimeLimits {
  /** Levels of arrays and objects a request body may nest (400 beyond). */
  maxJsonDepth: number;
  /** Bytes a request body may have (413 beyond). */
  maxBodyBytes: number;
  /** Requests one app may have waiting for a runner, besides those running (429 beyond). */
  maxQueuedPerApp: number;
  /** Seconds a request may run when its app sets no request_timeout (504 beyond). */
  defaultRequestTimeoutS: number;
}

export const DEFAULT_LIMITS: RuntimeLimits = {
  // As deep as pydantic's own JSON parser goes; far below the 1,000 frames Python allows the
  // worker, which decodes the input and runs the app's code within that same limit.
  maxJsonDepth: 200,
  // Inputs carry images as base64 and deploys carry source.
  maxBodyBytes: 64 * 1024 * 1024,
  // Room for bursts far beyond what runners drain in minutes, and a bound on what queued
  // inputs (each up to the body limit) can hold in memory and on disk.
  maxQueuedPerApp: 1000,
  // A model call that runs an hour is stuck or belongs in a job; its runner is freed by then.
  defaultRequestTimeoutS: 3600,
};

/** The most --max-json-depth may be: the worker must decode that much well within Python's recursion limit. */
export const MAX_JSON_DEPTH_SETTING = 500;

/**
 * Whether `text` (JSON, or anything) nests arrays and objects deeper than `maxDepth`, found
 * without parsing, recursing or allocating: strings are skipped with indexOf, so a large
 * base64 image costs a few native searches.
 */
export function nestingExceeds(text: string, maxDepth: number): boolean {
  // Going deeper takes more than maxDepth opening brackets: a shorter text cannot.
  if (text.length <= maxDepth) return false;
  const structure = /["[\]{}]/g;
  let depth = 0;
  for (let match = structure.exec(text); match; match = structure.exec(text)) {
    const char = match[0];
    if (char === '"') {
      structure.lastIndex = endOfString(text, match.index + 1);
    } else if (char === '[' || char === '{') {
      if (++depth > maxDepth) return true;
    } else {
      depth--;
    }
  }
  return false;
}

/** The index after the quote that closes a string opened before `from`. */
function endOfString(text: string, from: number): number {
  for (let quote = text.indexOf('"', from); quote >= 0; quote = text.indexOf('"', quote + 1)) {
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
  }
  return text.length;
}
