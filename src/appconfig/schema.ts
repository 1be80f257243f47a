/**
 * The App configuration as types and ranges (zod), one schema per key. validate.ts walks an
 * app's options with these and turns zod's issues into problems; the runtime parses the
 * resolved configuration with `appConfigSchema`. zod/mini keeps the editor's bundle small.
 */
import * as z from 'zod/mini';
import { VolumeRef } from './input';

const wholeNumber = (what: string, min: number) =>
  z.number({ error: `must be ${what}` }).check(
    z.int({ error: `must be ${what}, not a fraction` }),
    z.minimum(min, { error: `must be ${what}` }),
  );

const seconds = z.number({ error: 'must be a number of seconds' }).check(
  z.positive({ error: 'must be a number of seconds greater than 0' }),
);

const gpuCount = 'must be a whole number from 1 to 8';

/** Schemas for scalar options and for one item of a list or dict option. */
export const optionValueSchemas = {
  keep_alive: wholeNumber('a whole number of seconds, 0 or more', 0),
  min_concurrency: wholeNumber('a whole number, 0 or more', 0),
  max_concurrency: wholeNumber('a whole number, 1 or more', 1),
  max_multiplexing: wholeNumber('a whole number, 1 or more', 1),
  concurrency_buffer: wholeNumber('a whole number, 0 or more', 0),
  request_timeout: seconds,
  startup_timeout: seconds,
  num_gpus: z.number({ error: gpuCount }).check(
    z.int({ error: gpuCount }),
    z.minimum(1, { error: gpuCount }),
    z.maximum(8, { error: `${gpuCount} (a runner gets at most 8 GPUs)` }),
  ),
  name: z.string({ error: 'must be a string' }),
  snapshot_after_setup: z.boolean({ error: 'must be True or False' }),
  machineTypeItem: z.string({ error: 'must be a machine type name in quotes, such as "GPU-A10G"' }),
  requirementItem: z.string({ error: 'must be a string such as "numpy==2.1.3"' }),
  secretItem: z.string({ error: 'must be a string naming a secret' }),
  envValue: z.string({ error: 'must be a string (quote numbers and booleans: "1", "false")' }),
  volumeValue: z.instanceof(VolumeRef, { error: 'must be fal.Volume("name")' }),
} as const;

/** Containers: what a list- or dict-valued option must be before its items are checked. */
export const containerSchemas = {
  machine_type: z.union([z.string(), z.array(z.unknown())], { error: 'must be a machine type name or a list of them' }),
  requirements: z.array(z.unknown(), { error: 'must be a list of strings' }),
  secrets: z.array(z.unknown(), { error: 'must be a list of secret names' }),
  env: z.record(z.string(), z.unknown(), { error: 'must be a dict of name to string value' }),
  volumes: z.record(z.string(), z.unknown(), { error: 'must be a dict of mount path to fal.Volume("name")' }),
} as const;

const parameterSchema = z.object({ name: z.string(), annotation: z.nullable(z.string()), hasDefault: z.boolean() });

/** The validated configuration an app runs with: every default filled in. */
export const appConfigSchema = z.object({
  className: z.string(),
  name: z.string(),
  keepAlive: z._default(optionValueSchemas.keep_alive, 60),
  minConcurrency: z._default(optionValueSchemas.min_concurrency, 0),
  /** null: no limit beyond what the host's resources allow. */
  maxConcurrency: z._default(z.nullable(optionValueSchemas.max_concurrency), null),
  maxMultiplexing: z._default(optionValueSchemas.max_multiplexing, 1),
  concurrencyBuffer: z._default(optionValueSchemas.concurrency_buffer, 0),
  requestTimeout: z._default(z.nullable(seconds), null),
  startupTimeout: z._default(z.nullable(seconds), null),
  /** In fallback order; never empty. */
  machineTypes: z.array(z.string()).check(z.minLength(1)),
  numGpus: z._default(optionValueSchemas.num_gpus, 1),
  requirements: z._default(z.array(z.string()), []),
  volumes: z._default(z.array(z.object({ mountPath: z.string(), volume: z.string() })), []),
  env: z._default(z.record(z.string(), z.string()), {}),
  secrets: z._default(z.array(z.string()), []),
  snapshotAfterSetup: z._default(z.boolean(), false),
  endpoints: z.array(z.object({
    path: z.string(),
    functionName: z.string(),
    parameters: z.array(parameterSchema),
    isAsync: z.boolean(),
    isHealth: z.boolean(),
  })),
});

export type AppConfig = z.infer<typeof appConfigSchema>;
export type EndpointConfig = AppConfig['endpoints'][number];
