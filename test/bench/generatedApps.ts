/**
 * The editor benchmark's large file: many fal.App classes written the way real apps are, with
 * class keywords, every kind of attribute (lists, dicts, volumes, env, secrets), setup and
 * teardown, several endpoints with typed parameters and method bodies that do something.
 * One class in ten carries each of the mistakes people make while typing (a misspelt machine
 * type or keyword, min above max, an unpinned requirement), so diagnostics have problems to locate.
 */

const GPU_TYPES = ['GPU-T4', 'GPU-A10G', 'GPU-A100', 'GPU-A100-80GB', 'GPU-H100', 'GPU-H200'];
const CPU_TYPES = ['S', 'M', 'L', 'XL'];
const REQUIREMENTS = ['torch==2.4.1', 'diffusers==0.30.3', 'transformers==4.44.2', 'accelerate==0.34.2', 'safetensors==0.4.5', 'pillow==10.4.0'];

export interface GeneratedFile {
  text: string;
  classNames: string[];
}

function pad(index: number): string {
  return String(index).padStart(2, '0');
}

/** The class keywords, some of them misspelt or contradictory on purpose. */
function header(index: number, className: string): string {
  const id = pad(index);
  const keywords = [`keep_alive=${[60, 300, 600][index % 3]}`, `max_concurrency=${2 + (index % 7)}`, `name="model-${id}"`];
  if (index % 10 === 7) keywords[0] = 'keep_alvie=300';
  if (index % 10 === 5) keywords.push(`min_concurrency=${12 + (index % 7)}`);
  return `class ${className}(fal.App, ${keywords.join(', ')}):`;
}

/** Attributes: machine type (a name or a fallback list), GPUs, and the collections. */
function attributes(index: number): string[] {
  const id = pad(index);
  const gpu = index % 4 !== 3;
  const primary = gpu ? GPU_TYPES[index % GPU_TYPES.length]! : CPU_TYPES[index % CPU_TYPES.length]!;
  const machineType = index % 10 === 3 ? 'GPU-A1000' : primary;
  const fallback = primary === 'GPU-H100' ? 'GPU-H200' : 'GPU-H100';
  const requirements = REQUIREMENTS.slice(0, 2 + (index % 5));
  if (index % 10 === 9) requirements.push('numpy<2');
  const lines = [
    index % 5 === 1 ? `    machine_type = ["${machineType}", "${fallback}"]` : `    machine_type = "${machineType}"`,
    ...(gpu ? [`    num_gpus = ${1 + (index % 4)}`] : []),
    `    max_multiplexing = ${1 + (index % 3)}`,
    '    requirements = [',
    ...requirements.map((requirement) => `        "${requirement}",`),
    '    ]',
    '    volumes = {',
    `        "/models": fal.Volume("model-cache-${id}"),`,
    '        "/data": fal.Volume("user-data"),',
    '    }',
    '    env = {',
    `        "MODEL_VERSION": "v${index}.0",`,
    '        "LOG_LEVEL": "info",',
    '        "HF_HUB_OFFLINE": "1",',
    '    }',
    `    secrets = ["HF_TOKEN", "API_KEY_${id}"]`,
    `    request_timeout = ${60 * (1 + (index % 5))}`,
  ];
  return lines;
}

function lifecycle(index: number): string[] {
  const id = pad(index);
  return [
    '    def setup(self):',
    '        """Load the weights once per runner."""',
    '        import torch',
    '        from diffusers import StableDiffusionXLPipeline',
    '',
    '        self.device = "cuda" if torch.cuda.is_available() else "cpu"',
    '        self.pipe = StableDiffusionXLPipeline.from_pretrained(',
    `            "/models/sdxl-${id}",`,
    '            torch_dtype=torch.float16,',
    '            use_safetensors=True,',
    '        ).to(self.device)',
    '        self.cache = {}',
    '        self.requests = 0',
    '',
    '    def teardown(self):',
    '        self.cache.clear()',
  ];
}

function endpoints(): string[] {
  return [
    '    @fal.endpoint("/generate")',
    '    def generate(self, prompt: str, steps: int = 30, guidance: float = 7.5, seed: int | None = None) -> dict:',
    '        """Generate one image from a prompt."""',
    '        self.requests += 1',
    '        generator = None',
    '        if seed is not None:',
    '            import torch',
    '            generator = torch.Generator(self.device).manual_seed(seed)',
    '        image = self.pipe(',
    '            prompt,',
    '            num_inference_steps=steps,',
    '            guidance_scale=guidance,',
    '            generator=generator,',
    '        ).images[0]',
    '        url = self.save_image(image)',
    '        return {"image_url": url, "seed": seed, "steps": steps}',
    '',
    '    @fal.endpoint("/batch")',
    '    def batch(self, prompts: list[str], steps: int = 20) -> list[dict]:',
    '        results = []',
    '        for prompt in prompts:',
    '            key = (prompt, steps)',
    '            if key in self.cache:',
    '                results.append(self.cache[key])',
    '                continue',
    '            result = self.generate(prompt, steps=steps)',
    '            self.cache[key] = result',
    '            results.append(result)',
    '        return results',
    '',
    '    @fal.endpoint("/embed")',
    '    async def embed(self, text: str, normalize: bool = True) -> dict:',
    '        tokens = text.lower().split()',
    '        vector = [float(len(token)) for token in tokens]',
    '        if normalize and vector:',
    '            norm = sum(value * value for value in vector) ** 0.5',
    '            vector = [value / norm for value in vector]',
    '        return {"embedding": vector, "tokens": len(tokens)}',
    '',
    '    @fal.endpoint("/health")',
    '    def health(self) -> dict:',
    '        return {"status": "ok", "requests": self.requests, "device": self.device}',
    '',
    '    def _log_request(self, name: str, **fields) -> None:',
    '        line = " ".join(f"{key}={value}" for key, value in sorted(fields.items()))',
    '        print(f"[{name}] {line}")',
  ];
}

function appClass(index: number, className: string): string[] {
  return [
    header(index, className),
    `    """Serves model ${index}: text to image, batches and embeddings."""`,
    '',
    ...attributes(index),
    '',
    ...lifecycle(index),
    '',
    ...endpoints(),
  ];
}

const PREAMBLE = [
  '"""Fifty image models served from one file: the editor benchmark\'s large input."""',
  'from __future__ import annotations',
  '',
  'import json',
  'import os',
  '',
  'import fal',
  '',
  'DEFAULT_STEPS = int(os.environ.get("DEFAULT_STEPS", "30"))',
];

/**
 * `apps` App classes in a file of exactly `lines` lines (when they fit); a registry dict at
 * the end takes up what the classes leave.
 */
export function generateAppsFile(apps: number, lines: number): GeneratedFile {
  const out = [...PREAMBLE];
  const classNames: string[] = [];
  for (let index = 0; index < apps; index++) {
    const className = `ImageModel${pad(index)}`;
    classNames.push(className);
    out.push('', '', ...appClass(index, className));
  }
  out.push('', '', 'MODEL_REGISTRY = {');
  for (let entry = 0; out.length < lines - 1; entry++) {
    out.push(`    "model-${pad(entry % apps)}-${entry}": {"revision": ${entry}, "owner": "team-${entry % 4}", "public": ${entry % 2 === 0 ? 'True' : 'False'}},`);
  }
  out.push('}');
  return { text: `${out.join('\n')}\n`, classNames };
}
