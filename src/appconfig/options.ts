/** The configuration keys an App accepts, what each means, and where it may be written. */

export interface OptionSpec {
  key: string;
  /** Where fal accepts it: `both` as a class keyword or a class attribute. */
  accepted: 'both' | 'attribute' | 'keyword';
  /** What the setting does, in one or two sentences (hover and completion text). */
  doc: string;
  /** The value used when the app does not set it, as Python source. */
  defaultText?: string;
  /** An example value as Python source, inserted by completion. */
  snippet: string;
}

export const OPTION_SPECS: readonly OptionSpec[] = [
  { key: 'keep_alive', accepted: 'both', defaultText: '60', snippet: '300',
    doc: 'Seconds a runner stays warm after its last request. 0 scales to zero at once; higher values mean fewer cold starts and more idle cost.' },
  { key: 'min_concurrency', accepted: 'both', defaultText: '0', snippet: '1',
    doc: 'Runners kept ready at all times, even with no traffic. Each one is billed around the clock.' },
  { key: 'max_concurrency', accepted: 'both', snippet: '10',
    doc: 'The most runners the app scales up to. Requests beyond what they can take wait in the queue.' },
  { key: 'max_multiplexing', accepted: 'both', defaultText: '1', snippet: '4',
    doc: 'Requests one runner handles at the same time. Raise it for endpoints that wait on I/O or batch internally.' },
  { key: 'concurrency_buffer', accepted: 'both', defaultText: '0', snippet: '1',
    doc: 'Extra warm runners kept beyond what current traffic needs, to absorb bursts without cold starts.' },
  { key: 'request_timeout', accepted: 'both', snippet: '300',
    doc: 'Seconds a request may run before it fails with a request_timeout error.' },
  { key: 'startup_timeout', accepted: 'both', snippet: '600',
    doc: 'Seconds a runner may take to finish setup() before it is stopped with a startup_timeout error.' },
  { key: 'name', accepted: 'keyword', snippet: '"my-app"',
    doc: 'The app\'s name in URLs and the CLI. By default the class name in kebab-case.' },
  { key: 'machine_type', accepted: 'attribute', defaultText: '"S"', snippet: '"GPU-A10G"',
    doc: 'The machine each runner gets: a catalog name, or a list tried in order when the first is unavailable.' },
  { key: 'num_gpus', accepted: 'attribute', defaultText: '1', snippet: '2',
    doc: 'GPUs per runner, 1 to 8, on GPU machine types only. Each GPU is billed.' },
  { key: 'requirements', accepted: 'attribute', defaultText: '[]', snippet: '["numpy==2.1.3"]',
    doc: 'Python packages the app needs, as PEP 508 strings. The runtime builds one environment per distinct list.' },
  { key: 'volumes', accepted: 'attribute', defaultText: '{}', snippet: '{"/models": fal.Volume("model-cache")}',
    doc: 'Persistent storage: absolute mount path to fal.Volume("name"). Data survives cold starts and redeploys.' },
  { key: 'env', accepted: 'attribute', defaultText: '{}', snippet: '{"LOG_LEVEL": "info"}',
    doc: 'Public environment variables for every runner. Put credentials in secrets instead.' },
  { key: 'secrets', accepted: 'attribute', defaultText: '[]', snippet: '["HF_TOKEN"]',
    doc: 'Names of secrets (set with `kiln secrets set`) exposed to runners as environment variables, stored encrypted.' },
  { key: 'snapshot_after_setup', accepted: 'attribute', defaultText: 'False', snippet: 'True',
    doc: 'Kiln only: run setup() once in the revision\'s template and fork every runner from that state, so a cold start skips setup() too. For CPU runners whose setup() leaves no thread or open file behind; fal ignores the attribute.' },
];

const specByKey = new Map(OPTION_SPECS.map((spec) => [spec.key, spec]));

export function optionSpec(key: string): OptionSpec | undefined {
  return specByKey.get(key);
}

export const KEYWORD_OPTIONS = OPTION_SPECS.filter((spec) => spec.accepted !== 'attribute').map((spec) => spec.key);
export const ATTRIBUTE_OPTIONS = OPTION_SPECS.filter((spec) => spec.accepted !== 'keyword').map((spec) => spec.key);
