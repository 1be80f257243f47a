/**
 * What a reader of an app (the static Python reader in the editor, or the inspect worker at
 * deploy) hands to validation. Values are whatever the source holds, so the rules can report
 * wrong types instead of a reader guessing.
 */

/** A value a static reader could not evaluate (a call, a name, an f-string): never an error. */
export const UNCHECKED: unique symbol = Symbol.for('kiln.unchecked');
export type Unchecked = typeof UNCHECKED;

/** `fal.Volume("name")`; `name` is whatever the call's first argument held. */
export class VolumeRef {
  constructor(readonly name: unknown) {}
}

export type OptionSource = 'keyword' | 'attribute';

export interface OptionInput {
  key: string;
  /** JSON-like value, a VolumeRef inside `volumes`, or UNCHECKED (anywhere). */
  value: unknown;
  source: OptionSource;
}

export interface ParameterInput {
  name: string;
  /** The annotation as written (`str`, `list[str]`, `Input`), or null when there is none. */
  annotation: string | null;
  hasDefault: boolean;
}

export interface EndpointInput {
  /** The decorator's path argument: normally a string, UNCHECKED when it is an expression. */
  path: unknown;
  functionName: string;
  /** Parameters after `self`. */
  parameters: ParameterInput[];
  isAsync: boolean;
}

export interface AppInput {
  className: string;
  options: OptionInput[];
  endpoints: EndpointInput[];
  /** Names of the methods the class body defines (setup, teardown, __init__, helpers). */
  methods: string[];
}
