/**
 * The App configuration as types and ranges (zod), one schema per key. validate.ts walks an
 * app's options with these and turns zod's issues into problems; the runtime parses the
 * resolved configuration with `appConfigSchema`.
 */
import { z } from 'zod';
import { VolumeRef } from './input';

const wholeNumber = (what: string, min: number) =>
  z.number({ error: `must be ${what}` }).int({ error: `must be ${what}, not a fraction` }).min(min, { error: `must be ${what}` });

const seconds = z.number({ error: 'must be a number of seconds' }).positive({ error: 'must be a number of seconds greater than 0' });

/** Schemas for scalar options and for one item of a list or dict option. */
export const optionValueSchemas = {
  keep_alive: wholeNumber('a whole number of seconds, 0 or more', 0),
  min_concurrency: wholeNumber('a whole number, 0 or more', 0),
  max_concurrency: wholeNumber('a whole number, 1 or more', 1),
  max_multiplexing: wholeNumber('a whole number, 1 or more', 1),
  concurrency_buffer: wholeNumber('a whole number, 0 or more', 0),
  request_timeout: seconds,
  startup_timeout: seconds,
  num_gpus: z.number({ error: 'must be a whole number from 1 to 8' }).int({ error: 'must be a whole number from 1 to 8' })
    .min(1, { error: 'must be a whole number from 1 to 8' }).max(8, { error: 'must be a whole number from 1 to 8 (a runner gets at most 8 GPUs)' }),
  name: z.string({ error: 'must be a string' }),
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

const parameterSchema = z.object({ name: z.string(), annotation: z.string().nullable(), hasDefault: z.boolean() });

/** The validated configuration an app runs with: every default filled in. */
export const appConfigSchema = z.object({
  className: z.string(),
  name: z.string(),
  keepAlive: optionValueSchemas.keep_alive.default(60),
  minConcurrency: optionValueSchemas.min_concurrency.default(0),
  /** null: no limit beyond what the host's resources allow. */
  maxConcurrency: optionValueSchemas.max_concurrency.nullable().default(null),
  maxMultiplexing: optionValueSchemas.max_multiplexing.default(1),
  concurrencyBuffer: optionValueSchemas.concurrency_buffer.default(0),
  requestTimeout: seconds.nullable().default(null),
  startupTimeout: seconds.nullable().default(null),
  /** In fallback order; never empty. */
  machineTypes: z.array(z.string()).min(1),
  numGpus: optionValueSchemas.num_gpus.default(1),
  requirements: z.array(z.string()).default([]),
  volumes: z.array(z.object({ mountPath: z.string(), volume: z.string() })).default([]),
  env: z.record(z.string(), z.string()).default({}),
  secrets: z.array(z.string()).default([]),
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
