/**
 * Every problem code validateApp can report, driven through the real path: Python source ->
 * tree-sitter -> extractApps -> validateApp -> rangeOfTarget. Each row is one user mistake and
 * the closest thing to it that is fine.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Fix, PROBLEM_CODES, type ProblemCode, type ProblemTarget, type Severity, UNCHECKED, validateApp } from '../../src/appconfig';
import type { Range } from '../../src/pyparse';
import { appSource, check, replaceIn } from '../support/pyapps';

interface Row {
  code: ProblemCode;
  /** What the row shows, for the test name. */
  what: string;
  source: string;
  severity: Severity;
  target: ProblemTarget;
  /** The source text the problem's range covers: the offending value (or key, or name). */
  text: string;
  /** The exact range, for a representative subset. */
  range?: Range;
  /** Words of the message a user relies on. */
  message: RegExp[];
  /** The closest case that is fine: no problem with this code. */
  passes: string;
}

const at = (line: number, start: number, end: number, endLine = line): Range =>
  ({ start: { line, character: start }, end: { line: endLine, character: end } });

const attr = (key: string, extra: Partial<Extract<ProblemTarget, { kind: 'option' }>> = {}): ProblemTarget =>
  ({ kind: 'option', key, source: 'attribute', at: 'value', ...extra });
const kw = (key: string, extra: Partial<Extract<ProblemTarget, { kind: 'option' }>> = {}): ProblemTarget =>
  ({ kind: 'option', key, source: 'keyword', at: 'value', ...extra });

const ROWS: Row[] = [
  {
    code: 'unknown-option', what: 'a misspelled class keyword',
    source: appSource('machine_type = "GPU-A100"', ', keepalive=300'),
    severity: 'error', target: kw('keepalive', { at: 'key' }), text: 'keepalive', range: at(2, 20, 29),
    message: [/Unrecognised class keyword "keepalive"/, /fal rejects it at deploy/, /Did you mean "keep_alive"\?/],
    passes: appSource('machine_type = "GPU-A100"', ', keep_alive=300'),
  },
  {
    code: 'unknown-option', what: 'a class keyword like no option, listing the known ones',
    source: appSource('machine_type = "GPU-A100"', ', flavour="vanilla"'),
    severity: 'error', target: kw('flavour', { at: 'key' }), text: 'flavour',
    message: [/"flavour"/, /Known keywords: keep_alive, min_concurrency, .*name/],
    passes: appSource('machine_type = "GPU-A100"', ', name="vanilla"'),
  },
  {
    code: 'unknown-attribute', what: 'a class attribute one letter off an option',
    source: appSource('machine_type = "GPU-A100"\nkeepalive = 300'),
    severity: 'warning', target: attr('keepalive', { at: 'key' }), text: 'keepalive', range: at(4, 4, 13),
    message: [/"keepalive" is not an App setting/, /no effect/, /Did you mean "keep_alive"\?/],
    passes: appSource('machine_type = "GPU-A100"\nmodel_id = "stabilityai/sdxl-turbo"\nMAX_SEQ = 512'),
  },
  {
    code: 'option-must-be-attribute', what: 'machine_type given as a class keyword',
    source: appSource('keep_alive = 300', ', machine_type="GPU-A100"'),
    severity: 'error', target: kw('machine_type', { at: 'key' }), text: 'machine_type', range: at(2, 20, 32),
    message: [/machine_type must be a class attribute, not a class keyword/, /machine_type = \.\.\./],
    passes: appSource('machine_type = "GPU-A100"', ', keep_alive=300'),
  },
  {
    code: 'invalid-type', what: 'machine_type as a number',
    source: appSource('machine_type = 100'),
    severity: 'error', target: attr('machine_type'), text: '100', range: at(3, 19, 22),
    message: [/machine_type must be a machine type name or a list of them/],
    passes: appSource('machine_type = ["GPU-A100", "GPU-H100"]'),
  },
  {
    code: 'invalid-type', what: 'requirements as one string',
    source: appSource('requirements = "numpy==2.1.3"'),
    severity: 'error', target: attr('requirements'), text: '"numpy==2.1.3"',
    message: [/requirements must be a list of strings/],
    passes: appSource('requirements = ["numpy==2.1.3"]'),
  },
  {
    code: 'invalid-type', what: 'a requirement that is not a string',
    source: appSource('requirements = ["numpy==2.1.3", 3]'),
    severity: 'error', target: attr('requirements', { item: 1, itemAt: 'value' }), text: '3',
    message: [/Each requirement must be a string such as "numpy==2\.1\.3"/],
    passes: appSource('requirements = ["numpy==2.1.3", "pillow==10.4.0"]'),
  },
  {
    code: 'invalid-type', what: 'env as a list',
    source: appSource('env = ["DEBUG=1"]'),
    severity: 'error', target: attr('env'), text: '["DEBUG=1"]',
    message: [/env must be a dict of name to string value/],
    passes: appSource('env = {"DEBUG": "1"}'),
  },
  {
    code: 'invalid-type', what: 'secrets as one string',
    source: appSource('secrets = "HF_TOKEN"'),
    severity: 'error', target: attr('secrets'), text: '"HF_TOKEN"',
    message: [/secrets must be a list of secret names/],
    passes: appSource('secrets = ["HF_TOKEN"]'),
  },
  {
    code: 'invalid-type', what: 'volumes as a bare fal.Volume',
    source: appSource('volumes = fal.Volume("model-cache")'),
    severity: 'error', target: attr('volumes'), text: 'fal.Volume("model-cache")',
    message: [/volumes must be a dict of mount path to fal\.Volume\("name"\)/],
    passes: appSource('volumes = {"/models": fal.Volume("model-cache")}'),
  },
  {
    code: 'unknown-machine-type', what: 'a machine type in the wrong case',
    source: appSource('machine_type = "gpu-h100"'),
    severity: 'error', target: attr('machine_type'), text: '"gpu-h100"', range: at(3, 19, 29),
    message: [/Unknown machine type "gpu-h100"/, /Did you mean "GPU-H100"\?/],
    passes: appSource('machine_type = "GPU-H100"'),
  },
  {
    code: 'unknown-machine-type', what: 'a typo in the second entry of a fallback list',
    source: appSource('machine_type = ["GPU-A100", "GPU-H10"]'),
    severity: 'error', target: attr('machine_type', { item: 1, itemAt: 'value' }), text: '"GPU-H10"', range: at(3, 32, 41),
    message: [/Unknown machine type "GPU-H10"/, /Did you mean "GPU-H100"\?/],
    passes: appSource('machine_type = ["GPU-A100", "GPU-H100"]'),
  },
  {
    code: 'unknown-machine-type', what: 'a name like no machine type, listing the catalog',
    source: appSource('machine_type = "TPU-v5e"'),
    severity: 'error', target: attr('machine_type'), text: '"TPU-v5e"',
    message: [/Unknown machine type "TPU-v5e"/, /Known types: XS, S, M, L, XL, GPU-T4, .*GPU-B200\./],
    passes: appSource('machine_type = "GPU-T4"'),
  },
  {
    code: 'empty-machine-type-list', what: 'machine_type = []',
    source: appSource('machine_type = []'),
    severity: 'error', target: attr('machine_type'), text: '[]', range: at(3, 19, 21),
    message: [/machine_type is an empty list/, /name at least one machine type/],
    passes: appSource('machine_type = ["GPU-A10G"]'),
  },
  {
    code: 'duplicate-machine-type', what: 'a type listed twice in the fallback order',
    source: appSource('machine_type = ["GPU-A100", "GPU-H100", "GPU-A100"]'),
    severity: 'warning', target: attr('machine_type', { item: 2, itemAt: 'value' }), text: '"GPU-A100"', range: at(3, 44, 54),
    message: [/"GPU-A100" is already in the list/],
    passes: appSource('machine_type = ["GPU-A100", "GPU-H100", "GPU-A100-80GB"]'),
  },
  {
    code: 'invalid-keep-alive', what: 'a negative keep_alive keyword',
    source: appSource('machine_type = "GPU-A100"', ', keep_alive=-1'),
    severity: 'error', target: kw('keep_alive'), text: '-1', range: at(2, 31, 33),
    message: [/keep_alive must be a whole number of seconds, 0 or more/],
    passes: appSource('machine_type = "GPU-A100"', ', keep_alive=0'),
  },
  {
    code: 'invalid-keep-alive', what: 'a fractional keep_alive',
    source: appSource('keep_alive = 2.5'),
    severity: 'error', target: attr('keep_alive'), text: '2.5',
    message: [/keep_alive must be a whole number of seconds, 0 or more, not a fraction/],
    passes: appSource('keep_alive = 5 * 60'),
  },
  {
    code: 'invalid-keep-alive', what: 'keep_alive in quotes',
    source: appSource('keep_alive = "300"'),
    severity: 'error', target: attr('keep_alive'), text: '"300"',
    message: [/keep_alive must be a whole number of seconds/],
    passes: appSource('keep_alive = 300'),
  },
  {
    code: 'large-keep-alive', what: 'two idle hours on an A100, with the cost of the tail',
    source: appSource('machine_type = "GPU-A100"\nkeep_alive = 7200'),
    severity: 'warning', target: attr('keep_alive'), text: '7200', range: at(4, 17, 21),
    // 7200 s x $0.000556/s = $4.0032
    message: [/keep_alive=7200/, /idle for 2 h/, /up to \$4\.00 per runner per burst on GPU-A100/, /min_concurrency/],
    passes: appSource('machine_type = "GPU-A100"\nkeep_alive = 3600'),
  },
  {
    code: 'large-keep-alive', what: 'the tail priced per GPU',
    source: appSource('machine_type = "GPU-H100"\nnum_gpus = 2', ', keep_alive=4 * 3600'),
    severity: 'warning', target: kw('keep_alive'), text: '4 * 3600',
    // 14400 s x 2 GPUs x $0.001389/s = $40.0032
    message: [/idle for 4 h/, /up to \$40\.00 per runner per burst on GPU-H100/],
    passes: appSource('machine_type = "GPU-H100"\nnum_gpus = 2', ', keep_alive=300'),
  },
  {
    code: 'invalid-min-concurrency', what: 'a negative min_concurrency',
    source: appSource('min_concurrency = -1'),
    severity: 'error', target: attr('min_concurrency'), text: '-1', range: at(3, 22, 24),
    message: [/min_concurrency must be a whole number, 0 or more/],
    passes: appSource('min_concurrency = 0'),
  },
  {
    code: 'invalid-max-concurrency', what: 'max_concurrency = 0',
    source: appSource('max_concurrency = 0'),
    severity: 'error', target: attr('max_concurrency'), text: '0',
    message: [/max_concurrency must be a whole number, 1 or more/],
    passes: appSource('max_concurrency = 1'),
  },
  {
    code: 'min-exceeds-max', what: 'min_concurrency above max_concurrency',
    source: appSource('min_concurrency = 5\nmax_concurrency = 2'),
    severity: 'error', target: attr('min_concurrency'), text: '5', range: at(3, 22, 23),
    message: [/min_concurrency \(5\) is greater than max_concurrency \(2\)/, /never keep 5 runners/],
    passes: appSource('min_concurrency = 2\nmax_concurrency = 2'),
  },
  {
    code: 'invalid-max-multiplexing', what: 'max_multiplexing = 0',
    source: appSource('max_multiplexing = 0'),
    severity: 'error', target: attr('max_multiplexing'), text: '0',
    message: [/max_multiplexing must be a whole number, 1 or more/],
    passes: appSource('max_multiplexing = 4'),
  },
  {
    code: 'invalid-concurrency-buffer', what: 'a negative concurrency_buffer keyword',
    source: appSource('machine_type = "GPU-A100"', ', concurrency_buffer=-2'),
    severity: 'error', target: kw('concurrency_buffer'), text: '-2',
    message: [/concurrency_buffer must be a whole number, 0 or more/],
    passes: appSource('machine_type = "GPU-A100"', ', concurrency_buffer=2'),
  },
  {
    code: 'invalid-timeout', what: 'request_timeout = 0',
    source: appSource('request_timeout = 0'),
    severity: 'error', target: attr('request_timeout'), text: '0', range: at(3, 22, 23),
    message: [/request_timeout must be a number of seconds greater than 0/],
    passes: appSource('request_timeout = 0.5'),
  },
  {
    code: 'invalid-timeout', what: 'startup_timeout in quotes',
    source: appSource('startup_timeout = "600"'),
    severity: 'error', target: attr('startup_timeout'), text: '"600"',
    message: [/startup_timeout must be a number of seconds/],
    passes: appSource('startup_timeout = 600'),
  },
  {
    code: 'invalid-num-gpus', what: 'more GPUs than a runner gets',
    source: appSource('machine_type = "GPU-H100"\nnum_gpus = 9'),
    severity: 'error', target: attr('num_gpus'), text: '9', range: at(4, 15, 16),
    message: [/num_gpus must be a whole number from 1 to 8 \(a runner gets at most 8 GPUs\)/],
    passes: appSource('machine_type = "GPU-H100"\nnum_gpus = 8'),
  },
  {
    code: 'invalid-num-gpus', what: 'num_gpus = 0',
    source: appSource('machine_type = "GPU-H100"\nnum_gpus = 0'),
    severity: 'error', target: attr('num_gpus'), text: '0',
    message: [/num_gpus must be a whole number from 1 to 8/],
    passes: appSource('machine_type = "GPU-H100"\nnum_gpus = 1'),
  },
  {
    code: 'num-gpus-on-cpu', what: 'num_gpus on a CPU type',
    source: appSource('machine_type = "M"\nnum_gpus = 2'),
    severity: 'error', target: attr('num_gpus'), text: '2', range: at(4, 15, 16),
    message: [/num_gpus applies only to GPU machine types/, /"M" is a CPU type/, /remove num_gpus/],
    passes: appSource('machine_type = "GPU-A10G"\nnum_gpus = 2'),
  },
  {
    code: 'num-gpus-on-cpu', what: 'num_gpus with no machine_type (the default "S" is a CPU type)',
    source: appSource('num_gpus = 2'),
    severity: 'error', target: attr('num_gpus'), text: '2',
    message: [/"S" is a CPU type/],
    passes: appSource('machine_type = ["GPU-A10G", "GPU-A100"]\nnum_gpus = 2'),
  },
  {
    code: 'snapshot-on-gpu', what: 'a snapshot asked of a GPU machine type',
    source: appSource('machine_type = "GPU-A10G"\nsnapshot_after_setup = True'),
    severity: 'warning', target: attr('snapshot_after_setup'), text: 'True', range: at(4, 27, 31),
    message: [/snapshot_after_setup has no effect on GPU runners \(GPU-A10G\)/, /CUDA state cannot cross a fork/],
    passes: appSource('machine_type = "M"\nsnapshot_after_setup = True'),
  },
  {
    code: 'invalid-type', what: 'snapshot_after_setup that is not True or False',
    source: appSource('snapshot_after_setup = "yes"'),
    severity: 'error', target: attr('snapshot_after_setup'), text: '"yes"',
    message: [/snapshot_after_setup must be True or False/],
    passes: appSource('snapshot_after_setup = False'),
  },
  {
    code: 'invalid-requirement', what: 'a single "=" pin',
    source: appSource('requirements = ["torch==2.3.0", "numpy=1.0"]'),
    severity: 'error', target: attr('requirements', { item: 1, itemAt: 'value' }), text: '"numpy=1.0"', range: at(3, 36, 47),
    message: [/Requirement "numpy=1\.0" has an invalid version specifier "=1\.0"/, /use "==" for an exact version/],
    passes: appSource('requirements = ["torch==2.3.0", "numpy==1.0"]'),
  },
  {
    code: 'invalid-requirement', what: 'an editable install',
    source: appSource('requirements = ["-e ."]'),
    severity: 'error', target: attr('requirements', { item: 0, itemAt: 'value' }), text: '"-e ."',
    message: [/is a pip option or a bare path\/URL/, /"name @ URL"/],
    passes: appSource('requirements = ["mypkg @ https://example.com/mypkg-1.0-py3-none-any.whl"]'),
  },
  {
    code: 'duplicate-requirement', what: 'Pillow and pillow',
    source: appSource('requirements = ["Pillow==10.4.0", "pillow==10.3.0"]'),
    severity: 'warning', target: attr('requirements', { item: 1, itemAt: 'value' }), text: '"pillow==10.3.0"',
    message: [/"pillow" is already required above/],
    passes: appSource('requirements = ["Pillow==10.4.0", "pillow-heif==0.18.0"]'),
  },
  {
    code: 'duplicate-requirement', what: 'typing_extensions and typing-extensions',
    source: appSource('requirements = ["typing_extensions==4.12.2", "typing-extensions>=4"]'),
    severity: 'warning', target: attr('requirements', { item: 1, itemAt: 'value' }), text: '"typing-extensions>=4"',
    message: [/"typing-extensions" is already required above/],
    passes: appSource('requirements = ["typing_extensions==4.12.2"]'),
  },
  {
    code: 'unpinned-requirement', what: 'a bare package name',
    source: appSource('requirements = ["torch"]'),
    severity: 'information', target: attr('requirements', { item: 0, itemAt: 'value' }), text: '"torch"', range: at(3, 20, 27),
    message: [/"torch" is not pinned/, /Pin it with "torch==<version>"/],
    passes: appSource('requirements = ["torch==2.3.0", "flash-attn @ https://example.com/flash_attn-2.6.3.whl"]'),
  },
  {
    code: 'unpinned-requirement', what: 'a range and a wildcard',
    source: appSource('requirements = ["numpy==2.*"]'),
    severity: 'information', target: attr('requirements', { item: 0, itemAt: 'value' }), text: '"numpy==2.*"',
    message: [/"numpy==2\.\*" is not pinned/],
    passes: appSource('requirements = ["numpy===2.1.3"]'),
  },
  {
    code: 'invalid-volume-mount', what: 'a relative mount path',
    source: appSource('volumes = {"models": fal.Volume("model-cache")}'),
    severity: 'error', target: attr('volumes', { item: 'models', itemAt: 'key' }), text: '"models"', range: at(3, 15, 23),
    message: [/Mount path "models" must be absolute and plain/],
    passes: appSource('volumes = {"/models": fal.Volume("model-cache")}'),
  },
  {
    code: 'invalid-volume-mount', what: 'a mount path with ".."',
    source: appSource('volumes = {"/data/../models": fal.Volume("model-cache")}'),
    severity: 'error', target: attr('volumes', { item: '/data/../models', itemAt: 'key' }), text: '"/data/../models"',
    message: [/Mount path "\/data\/\.\.\/models" must be absolute and plain/],
    passes: appSource('volumes = {"/data/models": fal.Volume("model-cache")}'),
  },
  {
    code: 'system-volume-mount', what: 'a volume under /usr',
    source: appSource('volumes = {"/usr/local/models": fal.Volume("model-cache")}'),
    severity: 'error', target: attr('volumes', { item: '/usr/local/models', itemAt: 'key' }), text: '"/usr/local/models"',
    message: [/A volume at "\/usr\/local\/models" would hide part of the system/],
    passes: appSource('volumes = {"/mnt/models": fal.Volume("model-cache")}'),
  },
  {
    code: 'system-volume-mount', what: 'a volume over /tmp itself',
    source: appSource('volumes = {"/tmp": fal.Volume("scratch")}'),
    severity: 'error', target: attr('volumes', { item: '/tmp', itemAt: 'key' }), text: '"/tmp"',
    message: [/"\/tmp" would hide part of the system/],
    passes: appSource('volumes = {"/tmp/cache": fal.Volume("scratch")}'),
  },
  {
    code: 'duplicate-volume-mount', what: 'the same path with a trailing slash',
    source: appSource('volumes = {\n    "/models": fal.Volume("model-cache"),\n    "/models/": fal.Volume("other-cache"),\n}'),
    severity: 'error', target: attr('volumes', { item: '/models/', itemAt: 'key' }), text: '"/models/"', range: at(5, 8, 18),
    message: [/Two volumes are mounted at "\/models"/],
    passes: appSource('volumes = {\n    "/models": fal.Volume("model-cache"),\n    "/cache": fal.Volume("other-cache"),\n}'),
  },
  {
    code: 'nested-volume-mount', what: 'a volume inside another',
    source: appSource('volumes = {"/data": fal.Volume("user-data"), "/data/cache": fal.Volume("cache")}'),
    severity: 'error', target: attr('volumes', { item: '/data/cache', itemAt: 'key' }), text: '"/data/cache"',
    message: [/"\/data\/cache" and "\/data" are nested/, /side by side/],
    // A shared prefix is not nesting.
    passes: appSource('volumes = {"/data": fal.Volume("user-data"), "/data-cache": fal.Volume("cache")}'),
  },
  {
    code: 'invalid-volume', what: 'a volume name without fal.Volume',
    source: appSource('volumes = {"/models": "model-cache"}'),
    severity: 'error', target: attr('volumes', { item: '/models', itemAt: 'value' }), text: '"model-cache"', range: at(3, 26, 39),
    message: [/The volume at "\/models" must be fal\.Volume\("name"\)/, /Write fal\.Volume\("model-cache"\)/],
    passes: appSource('volumes = {"/models": fal.Volume("model-cache")}'),
  },
  {
    code: 'invalid-volume', what: 'a volume name with a space',
    source: appSource('volumes = {"/models": fal.Volume("model cache")}'),
    severity: 'error', target: attr('volumes', { item: '/models', itemAt: 'value' }), text: 'fal.Volume("model cache")',
    message: [/Volume name "model cache" is not valid/],
    passes: appSource('volumes = {"/models": fal.Volume(name="model_cache.v2")}'),
  },
  {
    code: 'invalid-env-name', what: 'a name starting with a digit',
    source: appSource('env = {"1ST_RUN": "yes"}'),
    severity: 'error', target: attr('env', { item: '1ST_RUN', itemAt: 'key' }), text: '"1ST_RUN"', range: at(3, 11, 20),
    message: [/"1ST_RUN" is not a valid environment variable name/],
    passes: appSource('env = {"FIRST_RUN_1": "yes"}'),
  },
  {
    code: 'invalid-env-value', what: 'a Python boolean',
    source: appSource('env = {"DEBUG": False}'),
    severity: 'error', target: attr('env', { item: 'DEBUG', itemAt: 'value' }), text: 'False', range: at(3, 20, 25),
    message: [/env\["DEBUG"\] must be a string/, /quote numbers and booleans/],
    passes: appSource('env = {"DEBUG": "false"}'),
  },
  {
    code: 'credential-in-env', what: 'a Hugging Face token in env',
    source: appSource('env = {"MODEL_VERSION": "v2.0", "HF_TOKEN": "hf_AbCdEfGhIjKlMnOpQrStUvWx"}'),
    severity: 'warning', target: attr('env', { item: 'HF_TOKEN', itemAt: 'value' }), text: '"hf_AbCdEfGhIjKlMnOpQrStUvWx"',
    range: at(3, 48, 77),
    message: [/env\["HF_TOKEN"\] looks like a credential/, /kiln secrets set HF_TOKEN=/, /list "HF_TOKEN" in secrets/],
    passes: appSource('env = {"MODEL_VERSION": "v2.0"}\nsecrets = ["HF_TOKEN"]'),
  },
  {
    code: 'credential-in-env', what: 'an OpenAI key under an innocent name',
    source: appSource('env = {"UPSTREAM": "sk-proj-abcdefghijklmnopqrstuvwxyz012345"}'),
    severity: 'warning', target: attr('env', { item: 'UPSTREAM', itemAt: 'value' }), text: '"sk-proj-abcdefghijklmnopqrstuvwxyz012345"',
    message: [/env\["UPSTREAM"\] looks like a credential/],
    passes: appSource('env = {"UPSTREAM": "https://api.openai.com/v1"}'),
  },
  {
    code: 'invalid-secret-name', what: 'a secret with a dash',
    source: appSource('secrets = ["HF-TOKEN"]'),
    severity: 'error', target: attr('secrets', { item: 0, itemAt: 'value' }), text: '"HF-TOKEN"', range: at(3, 15, 25),
    message: [/Secret name "HF-TOKEN" is not valid/, /environment variables/],
    passes: appSource('secrets = ["HF_TOKEN"]'),
  },
  {
    code: 'duplicate-secret', what: 'a secret listed twice',
    source: appSource('secrets = ["HF_TOKEN", "API_KEY", "HF_TOKEN"]'),
    severity: 'warning', target: attr('secrets', { item: 2, itemAt: 'value' }), text: '"HF_TOKEN"',
    message: [/Secret "HF_TOKEN" is already listed/],
    passes: appSource('secrets = ["HF_TOKEN", "API_KEY"]'),
  },
  {
    code: 'secret-also-in-env', what: 'a name in both env and secrets',
    source: appSource('env = {"API_BASE": "https://api.example.com"}\nsecrets = ["API_BASE"]'),
    severity: 'error', target: attr('secrets', { item: 0, itemAt: 'value' }), text: '"API_BASE"', range: at(4, 15, 25),
    message: [/"API_BASE" is both a secret and an env variable/, /Remove it from env/],
    passes: appSource('env = {"API_BASE": "https://api.example.com"}\nsecrets = ["API_KEY"]'),
  },
  {
    code: 'no-endpoints', what: 'an App without @fal.endpoint',
    source: 'import fal\n\nclass Worker(fal.App):\n    machine_type = "GPU-A10G"\n\n    def run(self, prompt: str) -> str:\n        return prompt\n',
    severity: 'warning', target: { kind: 'class' }, text: 'Worker', range: at(2, 6, 12),
    message: [/no endpoints, so nothing can call it/, /@fal\.endpoint\("\/path"\)/],
    passes: 'import fal\n\nclass Worker(fal.App):\n    machine_type = "GPU-A10G"\n\n    @fal.endpoint("/run")\n    def run(self, prompt: str) -> str:\n        return prompt\n',
  },
  {
    code: 'invalid-endpoint-path', what: 'a path without the leading slash',
    source: 'import fal\n\nclass Demo(fal.App):\n    @fal.endpoint("generate")\n    def generate(self, prompt: str) -> str:\n        return prompt\n',
    severity: 'error', target: { kind: 'endpoint', index: 0, at: 'path' }, text: '"generate"', range: at(3, 18, 28),
    message: [/Endpoint path "generate" must start with "\/"/, /e\.g\. "\/generate"/],
    passes: 'import fal\n\nclass Demo(fal.App):\n    @fal.endpoint("/generate")\n    def generate(self, prompt: str) -> str:\n        return prompt\n',
  },
  {
    code: 'invalid-endpoint-path', what: 'a path with a space',
    source: 'import fal\n\nclass Demo(fal.App):\n    @fal.endpoint("/gen image")\n    def generate(self, prompt: str) -> str:\n        return prompt\n',
    severity: 'error', target: { kind: 'endpoint', index: 0, at: 'path' }, text: '"/gen image"',
    message: [/may use only letters, digits/, /e\.g\. "\/gen-image"/],
    passes: 'import fal\n\nclass Demo(fal.App):\n    @fal.endpoint("/gen-image/v1.2")\n    def generate(self, prompt: str) -> str:\n        return prompt\n',
  },
  {
    code: 'invalid-endpoint-path', what: 'a path that is not a string',
    source: 'import fal\n\nclass Demo(fal.App):\n    @fal.endpoint(42)\n    def generate(self, prompt: str) -> str:\n        return prompt\n',
    severity: 'error', target: { kind: 'endpoint', index: 0, at: 'path' }, text: '42',
    message: [/must be a string such as "\/generate"/],
    passes: 'import fal\n\nclass Demo(fal.App):\n    @fal.endpoint(path="/")\n    def generate(self, prompt: str) -> str:\n        return prompt\n',
  },
  {
    code: 'duplicate-endpoint-path', what: 'two endpoints at one path',
    source: 'import fal\n\nclass Demo(fal.App):\n    @fal.endpoint("/generate")\n    def generate(self, prompt: str) -> str:\n        return prompt\n\n    @fal.endpoint("/generate")\n    def generate_v2(self, prompt: str) -> str:\n        return prompt\n',
    severity: 'error', target: { kind: 'endpoint', index: 1, at: 'path' }, text: '"/generate"', range: at(7, 18, 29),
    message: [/Endpoint path "\/generate" is already used by generate\(\)/],
    passes: 'import fal\n\nclass Demo(fal.App):\n    @fal.endpoint("/generate")\n    def generate(self, prompt: str) -> str:\n        return prompt\n\n    @fal.endpoint("/generate/v2")\n    def generate_v2(self, prompt: str) -> str:\n        return prompt\n',
  },
  {
    code: 'missing-type-hint', what: 'an untyped parameter',
    source: 'import fal\n\nclass Demo(fal.App):\n    @fal.endpoint("/generate")\n    def generate(self, prompt, steps: int = 30) -> str:\n        return prompt\n',
    severity: 'warning', target: { kind: 'parameter', endpoint: 0, parameter: 'prompt' }, text: 'prompt', range: at(4, 23, 29),
    message: [/Parameter "prompt" has no type hint/, /e\.g\. "prompt: str"/],
    passes: 'import fal\n\nclass Demo(fal.App):\n    @fal.endpoint("/generate")\n    def generate(self, prompt: str, *args, steps: int = 30, **kwargs) -> str:\n        return prompt\n',
  },
  {
    code: 'multiple-health-endpoints', what: '/health and /healthz',
    source: 'import fal\n\nclass Demo(fal.App):\n    @fal.endpoint("/health")\n    def health(self) -> dict:\n        return {}\n\n    @fal.endpoint("/healthz")\n    def ready(self) -> dict:\n        return {}\n',
    severity: 'error', target: { kind: 'endpoint', index: 1, at: 'path' }, text: '"/healthz"',
    message: [/already has a health endpoint \(health\)/, /Keep one/],
    passes: 'import fal\n\nclass Demo(fal.App):\n    @fal.endpoint("/health")\n    def health(self) -> dict:\n        return {}\n\n    @fal.endpoint("/status")\n    def status(self) -> dict:\n        return {}\n',
  },
  {
    code: 'invalid-app-name', what: 'a name with capitals and a space',
    source: appSource('machine_type = "GPU-A100"', ', name="My App"'),
    severity: 'error', target: kw('name'), text: '"My App"', range: at(2, 25, 33),
    message: [/App name "My App" cannot be used in URLs/, /lower-case letters, digits and "-"/],
    passes: appSource('machine_type = "GPU-A100"', ', name="my-app"'),
  },
  {
    code: 'invalid-app-name', what: 'a name the runtime reserves',
    source: appSource('machine_type = "GPU-A100"', ', name="queue"'),
    severity: 'error', target: kw('name'), text: '"queue"',
    message: [/App name "queue" is reserved by the runtime's own API/],
    passes: appSource('machine_type = "GPU-A100"', ', name="queue-worker"'),
  },
  {
    code: 'invalid-app-name', what: 'a default name from a class called Health',
    source: 'import fal\n\nclass Health(fal.App):\n    @fal.endpoint("/check")\n    def check(self) -> dict:\n        return {}\n',
    severity: 'error', target: { kind: 'class' }, text: 'Health',
    message: [/The default name "health" \(from the class name\) is reserved/],
    passes: 'import fal\n\nclass Health(fal.App, name="health-check"):\n    @fal.endpoint("/check")\n    def check(self) -> dict:\n        return {}\n',
  },
  {
    code: 'invalid-app-name', what: 'a default name that is not URL-safe',
    source: 'import fal\n\nclass _Internal(fal.App):\n    @fal.endpoint("/run")\n    def run(self) -> dict:\n        return {}\n',
    severity: 'error', target: { kind: 'class' }, text: '_Internal',
    message: [/The default name "-internal"/, /Pass name="\.\.\." as a class keyword/],
    passes: 'import fal\n\nclass _Internal(fal.App, name="internal"):\n    @fal.endpoint("/run")\n    def run(self) -> dict:\n        return {}\n',
  },
  {
    code: 'invalid-app-name', what: 'a name that is not a string',
    source: appSource('', ', name=42'),
    severity: 'error', target: kw('name'), text: '42',
    message: [/name must be a string/],
    passes: appSource('', ', name="app-42"'),
  },
  {
    code: 'init-override', what: 'an __init__ instead of setup()',
    source: appSource('def __init__(self):\n    self.model = None'),
    severity: 'error', target: { kind: 'method', name: '__init__' }, text: '__init__', range: at(3, 8, 16),
    message: [/must not override __init__/, /setup\(self\)/],
    passes: appSource('def setup(self):\n    self.model = None'),
  },
];

describe('every problem code', () => {
  it('has at least one row here', () => {
    const covered = new Set(ROWS.map((row) => row.code));
    assert.deepEqual(Object.keys(PROBLEM_CODES).filter((code) => !covered.has(code as ProblemCode)), []);
  });

  for (const row of ROWS) {
    describe(`${row.code}: ${row.what}`, () => {
      it('is reported on the offending value', async () => {
        const checked = await check(row.source);
        const found = checked.withCode(row.code);
        assert.equal(found.length, 1, `expected one ${row.code}, got ${JSON.stringify(checked.problems, null, 1)}`);
        const problem = found[0]!;
        assert.equal(problem.severity, row.severity);
        assert.deepEqual(problem.target, row.target);
        assert.equal(checked.textOf(problem.target), row.text);
        if (row.range) assert.deepEqual(checked.rangeOf(problem.target), row.range);
        for (const words of row.message) assert.match(problem.message, words);
        // Errors withhold the configuration; warnings and information do not.
        assert.equal(checked.result.config === null, checked.problems.some((p) => p.severity === 'error'));
      });

      it('is not reported for the closest valid case', async () => {
        const checked = await check(row.passes);
        assert.deepEqual(checked.withCode(row.code), []);
      });
    });
  }
});

describe('fixes', () => {
  const onlyFix = (fixes: Fix[] | undefined): Fix => {
    assert.equal(fixes?.length, 1);
    return fixes[0]!;
  };

  it('replaces an unknown machine type with the suggestion, quoted, and the result is clean', async () => {
    const checked = await check(appSource('machine_type = ["GPU-A100", "gpu-h100"]'));
    const [problem] = checked.withCode('unknown-machine-type');
    const fix = onlyFix(problem!.fixes);
    assert.equal(fix.kind, 'replace');
    if (fix.kind !== 'replace') return;
    assert.equal(fix.title, 'Change to "GPU-H100"');
    assert.equal(fix.text, '"GPU-H100"');
    assert.deepEqual(fix.target, problem!.target);
    const fixed = await check(replaceIn(checked.source, checked.rangeOf(fix.target), fix.text));
    assert.deepEqual(fixed.problems, []);
    assert.deepEqual(fixed.result.config?.machineTypes, ['GPU-A100', 'GPU-H100']);
  });

  it('offers no replacement when nothing is close', async () => {
    const checked = await check(appSource('machine_type = "TPU-v5e"'));
    assert.equal(checked.withCode('unknown-machine-type')[0]!.fixes, undefined);
  });

  it('swaps min_concurrency and max_concurrency, naming both values', async () => {
    const checked = await check(appSource('machine_type = "GPU-H100"\nmax_concurrency = 2', ', min_concurrency=5'));
    const [problem] = checked.withCode('min-exceeds-max');
    const fix = onlyFix(problem!.fixes);
    assert.equal(fix.kind, 'swap-values');
    if (fix.kind !== 'swap-values') return;
    assert.deepEqual(fix.first, { kind: 'option', key: 'min_concurrency', source: 'keyword', at: 'value' });
    assert.deepEqual(fix.second, { kind: 'option', key: 'max_concurrency', source: 'attribute', at: 'value' });
    assert.equal(checked.textOf(fix.first), '5');
    assert.equal(checked.textOf(fix.second), '2');
    assert.match(fix.title, /min_concurrency/);
    assert.match(fix.title, /max_concurrency/);
  });

  it('moves a credential from env to secrets', async () => {
    const checked = await check(appSource('env = {"HF_TOKEN": "hf_AbCdEfGhIjKlMnOpQrStUvWx"}'));
    const fix = onlyFix(checked.withCode('credential-in-env')[0]!.fixes);
    assert.deepEqual(fix, { kind: 'move-env-to-secrets', title: 'Move HF_TOKEN to secrets', envKey: 'HF_TOKEN' });
  });

  it('replaces an unknown class keyword with the option it misspells, and the result is clean', async () => {
    const checked = await check(appSource('machine_type = "GPU-A100"', ', keep_alve=300'));
    const [problem] = checked.withCode('unknown-option');
    const fix = onlyFix(problem!.fixes);
    assert.equal(fix.kind, 'replace');
    if (fix.kind !== 'replace') return;
    assert.equal(fix.text, 'keep_alive');
    assert.equal(checked.textOf(fix.target), 'keep_alve');
    const fixed = await check(replaceIn(checked.source, checked.rangeOf(fix.target), fix.text));
    assert.deepEqual(fixed.problems, []);
    assert.equal(fixed.result.config?.keepAlive, 300);
  });

  it('replaces a misspelled attribute with the option name', async () => {
    const checked = await check(appSource('machine_types = "GPU-A100"'));
    const fix = onlyFix(checked.withCode('unknown-attribute')[0]!.fixes);
    assert.equal(fix.kind === 'replace' && fix.text, 'machine_type');
  });

  it('replaces an invalid endpoint path with a valid one, and the result is clean', async () => {
    const checked = await check('import fal\n\nclass Demo(fal.App):\n    @fal.endpoint("gen image//")\n    def generate(self, prompt: str) -> str:\n        return prompt\n');
    const [problem] = checked.withCode('invalid-endpoint-path');
    const fix = onlyFix(problem!.fixes);
    assert.equal(fix.kind, 'replace');
    if (fix.kind !== 'replace') return;
    assert.equal(fix.text, '"/gen-image"');
    assert.equal(checked.textOf(fix.target), '"gen image//"');
    const fixed = await check(replaceIn(checked.source, checked.rangeOf(fix.target), fix.text));
    assert.deepEqual(fixed.problems, []);
    assert.equal(fixed.result.config?.endpoints[0]?.path, '/gen-image');
  });

  it('removes a duplicate machine type, requirement or secret', async () => {
    const checked = await check(appSource(
      'machine_type = ["GPU-A100", "GPU-A100"]\nrequirements = ["torch==2.3.0", "Torch==2.3.0"]\nsecrets = ["HF_TOKEN", "HF_TOKEN"]'));
    for (const code of ['duplicate-machine-type', 'duplicate-requirement', 'duplicate-secret'] as const) {
      const [problem] = checked.withCode(code);
      const fix = onlyFix(problem!.fixes);
      assert.equal(fix.kind, 'remove', code);
      assert.deepEqual(fix.kind === 'remove' && fix.target, problem!.target, code);
    }
  });
});

describe('a value the reader cannot evaluate', () => {
  it('is never an error, in any rule, at the top level or inside lists and dicts', async () => {
    const checked = await check(`import os
import fal

MODELS = "/models"

class Demo(fal.App, keep_alive=KEEP_ALIVE, min_concurrency=int(os.environ["MIN"]), name=APP_NAME):
    machine_type = [PRIMARY_GPU, "GPU-A100"]
    num_gpus = GPUS
    max_concurrency = settings.max_concurrency
    max_multiplexing = 2 ** WIDTH
    concurrency_buffer = BUFFER
    request_timeout = TIMEOUT
    startup_timeout = timedelta(minutes=10).total_seconds()
    requirements = [f"torch=={TORCH_VERSION}", *BASE_REQUIREMENTS, pin("numpy")]
    volumes = {MODELS: fal.Volume("model-cache"), "/data": DATA_VOLUME, "/cache": fal.Volume(f"cache-{REGION}")}
    env = {"HF_HOME": HF_HOME, "HF_TOKEN": os.environ.get("HF_TOKEN"), f"{PREFIX}_MODE": "fast"}
    secrets = [SECRET_NAME, *EXTRA_SECRETS]

    @fal.endpoint(f"/{VERSION}/generate")
    def generate(self, prompt: str) -> str:
        return prompt

    @fal.endpoint(ROUTES.health)
    def health(self) -> dict:
        return {}
`);
    assert.deepEqual(checked.problems, []);
    assert.notEqual(checked.result.config, null);
  });

  it('is never a problem for any option, handed to validateApp directly', () => {
    const endpoint = { path: '/run', functionName: 'run', parameters: [], isAsync: false };
    const keys = ['keep_alive', 'min_concurrency', 'max_concurrency', 'max_multiplexing', 'concurrency_buffer', 'request_timeout',
      'startup_timeout', 'name', 'machine_type', 'num_gpus', 'requirements', 'volumes', 'env', 'secrets'];
    for (const key of keys) {
      for (const source of ['keyword', 'attribute'] as const) {
        if (key === 'name' && source === 'attribute') continue;
        if (['machine_type', 'num_gpus', 'requirements', 'volumes', 'env', 'secrets'].includes(key) && source === 'keyword') continue;
        const { problems } = validateApp({ className: 'Demo', options: [{ key, value: UNCHECKED, source }], endpoints: [endpoint], methods: [] });
        assert.deepEqual(problems, [], `${source} ${key}`);
      }
    }
    const { problems } = validateApp({ className: 'Demo', options: [], endpoints: [{ ...endpoint, path: UNCHECKED }], methods: [] });
    assert.deepEqual(problems, []);
  });

  it('as machine_type, leaves num_gpus unjudged instead of checking it against the default "S"', async () => {
    for (const machineType of ['GPU_TYPE', 'os.environ["MACHINE"]', '[PRIMARY, FALLBACK]']) {
      const checked = await check(appSource(`machine_type = ${machineType}\nnum_gpus = 2`));
      assert.deepEqual(checked.problems, [], machineType);
    }
  });

  it('as machine_type, still warns about a long keep_alive but quotes no price', async () => {
    const checked = await check(appSource('machine_type = GPU_TYPE\nkeep_alive = 7200'));
    const [problem] = checked.withCode('large-keep-alive');
    assert.match(problem!.message, /idle for 2 h after its last request\. Use min_concurrency/);
    assert.doesNotMatch(problem!.message, /\$/);
  });

  it('as name=, is not replaced by the default name and judged', async () => {
    const checked = await check('import fal\n\nclass Health(fal.App, name=APP_NAME):\n    @fal.endpoint("/check")\n    def check(self) -> dict:\n        return {}\n');
    assert.deepEqual(checked.problems, []);
  });

  it('as an env value, is not taken for a credential or a wrong type', async () => {
    const checked = await check(appSource('env = {"OPENAI_API_KEY": os.environ["OPENAI_API_KEY"], "RETRIES": str(3)}'));
    assert.deepEqual(checked.problems, []);
  });
});

describe('an unknown machine type reported once', () => {
  it('does not also blame num_gpus on the default CPU type', async () => {
    const checked = await check(appSource('machine_type = "GPU-A10"\nnum_gpus = 2'));
    assert.deepEqual(checked.problems.map((problem) => problem.code), ['unknown-machine-type']);
  });
});

describe('options set twice', () => {
  it('judges the later of two class attributes, as Python keeps it', async () => {
    const checked = await check(appSource('keep_alive = 300\nkeep_alive = -1'));
    const [problem] = checked.withCode('invalid-keep-alive');
    assert.deepEqual(checked.rangeOf(problem!.target), at(4, 17, 19));

    const valid = await check(appSource('keep_alive = -1\nkeep_alive = 90'));
    assert.deepEqual(valid.problems, []);
    assert.equal(valid.result.config?.keepAlive, 90);
  });

  it('lets the class attribute win over the keyword, as fal\'s SDK does', async () => {
    const checked = await check(appSource('keep_alive = 30', ', keep_alive=600'));
    assert.deepEqual(checked.problems, []);
    assert.equal(checked.result.config?.keepAlive, 30);
    const judged = await check(appSource('keep_alive = -1', ', keep_alive=600'));
    const [problem] = judged.withCode('invalid-keep-alive');
    assert.deepEqual(judged.rangeOf(problem!.target), at(3, 17, 19));
  });
});

describe('more credential shapes', () => {
  const credentialKeys = async (env: string) =>
    (await check(appSource(`env = ${env}`))).withCode('credential-in-env').map((problem) =>
      problem.target.kind === 'option' ? problem.target.item : undefined);

  it('flags credential-like names with secret-looking values', async () => {
    assert.deepEqual(await credentialKeys(
      '{"DB_PASSWORD": "correct-horse-battery", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMIK7MDENGbPxRfiCY", "WEBHOOK": "ghp_abcdefghijklmnopqrstuvwxyz0123"}'),
    ['DB_PASSWORD', 'AWS_SECRET_ACCESS_KEY', 'WEBHOOK']);
  });

  it('leaves flags, numbers, paths, URLs and short words alone, and names that only contain TOKEN or AUTH', async () => {
    assert.deepEqual(await credentialKeys(
      '{"TOKENIZERS_PARALLELISM": "false", "MAX_TOKENS": "4096", "HF_TOKEN_PATH": "/run/secrets/hf", "AUTH_URL": "https://auth.example.com", "API_KEY": "none", "TOKEN_TYPE": "bearer", "TOKENIZER_NAME": "bert-base-uncased", "AUTHOR": "Ada Lovelace"}'),
    []);
  });
});

describe('a valid app', () => {
  it('resolves to a configuration with every default filled in', async () => {
    const checked = await check(appSource('machine_type = "GPU-A10G"', ', keep_alive=300'));
    assert.deepEqual(checked.problems, []);
    assert.deepEqual(checked.result.config, {
      className: 'Demo',
      name: 'demo',
      keepAlive: 300,
      minConcurrency: 0,
      maxConcurrency: null,
      maxMultiplexing: 1,
      concurrencyBuffer: 0,
      requestTimeout: null,
      startupTimeout: null,
      machineTypes: ['GPU-A10G'],
      numGpus: 1,
      requirements: [],
      volumes: [],
      env: {},
      secrets: [],
      snapshotAfterSetup: false,
      endpoints: [{ path: '/run', functionName: 'run', parameters: [{ name: 'prompt', annotation: 'str', hasDefault: false }], isAsync: false, isHealth: false }],
    });
  });

  it('defaults machine_type to "S" and marks /health as the health endpoint', async () => {
    const checked = await check('import fal\n\nclass Tiny(fal.App):\n    @fal.endpoint("/health")\n    async def ping(self) -> dict:\n        return {}\n');
    assert.deepEqual(checked.result.config?.machineTypes, ['S']);
    assert.deepEqual(checked.result.config?.endpoints.map((endpoint) => [endpoint.path, endpoint.isHealth, endpoint.isAsync]), [['/health', true, true]]);
  });
});

describe('an unknown keyword close to an attribute-only option', () => {
  it('says to move it into the class body instead of offering a rename that would be wrong again', async () => {
    const checked = await check(appSource('', ', machine_typ="GPU-T4"'));
    const [problem] = checked.withCode('unknown-option');
    assert.match(problem!.message, /Did you mean the class attribute "machine_type"\? Set it in the class body: machine_type = \.\.\./);
    assert.equal(problem!.fixes, undefined);
  });

  it('still offers the rename for a keyword option', async () => {
    const checked = await check(appSource('', ', keep_alve=30'));
    const [problem] = checked.withCode('unknown-option');
    assert.deepEqual(problem!.fixes?.map((fix) => fix.title), ['Change to "keep_alive"']);
  });
});
