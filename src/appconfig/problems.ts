/** What validation reports. Location-free: each reader maps a target to its own positions. */

export type Severity = 'error' | 'warning' | 'information';

/**
 * Where a problem points, in terms of the configuration rather than text:
 * - `class`: the class name.
 * - `option`: a keyword or attribute; `at` picks its key or its value; `item` walks into a list
 *   (index) or a dict (key), and `itemAt` picks that entry's key or value.
 * - `endpoint`: the decorator's path, the function name, or one parameter.
 * - `method`: a method of the class body by name.
 */
export type ProblemTarget =
  | { kind: 'class' }
  | { kind: 'option'; key: string; source?: 'keyword' | 'attribute'; at: 'key' | 'value'; item?: string | number; itemAt?: 'key' | 'value' }
  | { kind: 'endpoint'; index: number; at: 'path' | 'function' }
  | { kind: 'parameter'; endpoint: number; parameter: string }
  | { kind: 'method'; name: string };

/** A fix the reader can turn into text edits; appconfig says what, the reader knows where. */
export type Fix =
  | { kind: 'replace'; title: string; target: ProblemTarget; text: string }
  | { kind: 'swap-values'; title: string; first: ProblemTarget; second: ProblemTarget }
  | { kind: 'move-env-to-secrets'; title: string; envKey: string }
  | { kind: 'remove'; title: string; target: ProblemTarget };

export interface Problem {
  /** Stable identifier, kebab-case (`unknown-machine-type`); documented in the README. */
  code: ProblemCode;
  severity: Severity;
  /** Says what is wrong and what to do. */
  message: string;
  target: ProblemTarget;
  fixes?: Fix[];
}

export const PROBLEM_CODES = {
  'unknown-option': 'A class keyword Kiln and fal do not know.',
  'unknown-attribute': 'A class attribute that looks like a misspelled option.',
  'option-must-be-attribute': 'An option given as a class keyword that must be a class attribute.',
  'invalid-type': 'An option holds a value of the wrong type.',
  'unknown-machine-type': 'A machine type not in the catalog.',
  'empty-machine-type-list': 'machine_type is an empty list.',
  'duplicate-machine-type': 'A machine type listed twice.',
  'invalid-keep-alive': 'keep_alive is not a whole number of seconds >= 0.',
  'large-keep-alive': 'keep_alive holds idle runners for a long, costly time.',
  'invalid-min-concurrency': 'min_concurrency is not a whole number >= 0.',
  'invalid-max-concurrency': 'max_concurrency is not a whole number >= 1.',
  'min-exceeds-max': 'min_concurrency is greater than max_concurrency.',
  'invalid-max-multiplexing': 'max_multiplexing is not a whole number >= 1.',
  'invalid-concurrency-buffer': 'concurrency_buffer is not a whole number >= 0.',
  'invalid-timeout': 'request_timeout or startup_timeout is not a positive number of seconds.',
  'invalid-num-gpus': 'num_gpus is not a whole number from 1 to 8.',
  'num-gpus-on-cpu': 'num_gpus set on a CPU machine type.',
  'invalid-requirement': 'A requirement that is not a valid PEP 508 string.',
  'duplicate-requirement': 'The same package required twice.',
  'unpinned-requirement': 'A requirement without an exact version.',
  'invalid-volume-mount': 'A volume mount path that is not absolute.',
  'system-volume-mount': 'A volume mounted over a system path.',
  'duplicate-volume-mount': 'Two volumes at the same mount path.',
  'nested-volume-mount': 'A volume mounted inside another.',
  'invalid-volume': 'A volume that is not fal.Volume("name") with a valid name.',
  'invalid-env-name': 'An environment variable name that is not valid.',
  'invalid-env-value': 'An environment variable value that is not a string.',
  'credential-in-env': 'An env value that looks like a credential.',
  'invalid-secret-name': 'A secret name that is not a valid environment variable name.',
  'duplicate-secret': 'A secret listed twice.',
  'secret-also-in-env': 'A name in both secrets and env.',
  'no-endpoints': 'An app without any @fal.endpoint.',
  'invalid-endpoint-path': 'An endpoint path that does not start with / or has invalid characters.',
  'duplicate-endpoint-path': 'Two endpoints with the same path.',
  'missing-type-hint': 'An endpoint parameter without a type hint.',
  'multiple-health-endpoints': 'More than one health endpoint.',
  'invalid-app-name': 'An app name that cannot be used in a URL.',
  'init-override': 'The class overrides __init__ instead of using setup().',
  'snapshot-on-gpu': 'snapshot_after_setup on a GPU machine type, where CUDA state cannot cross a fork.',
} as const;

export type ProblemCode = keyof typeof PROBLEM_CODES;
