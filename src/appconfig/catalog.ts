/**
 * The machine types an app can ask for. GPU prices are the spec's (2025 table); CPU types are
 * fal's names with Kiln's own per-core estimate, since the spec prices only GPUs.
 */

export interface GpuMachineType {
  kind: 'gpu';
  name: string;
  gpu: string;
  /** VRAM per GPU in GB, the figure the runtime matches against the host's GPUs. */
  vramGb: number;
  /** VRAM as the spec writes it ("180GB+"). */
  vramLabel: string;
  pricePerSecond: number;
  useCase: string;
}

export interface CpuMachineType {
  kind: 'cpu';
  name: string;
  cpuCores: number;
  memoryGb: number;
  pricePerSecond: number;
  useCase: string;
}

export type MachineType = GpuMachineType | CpuMachineType;

/** USD per CPU core-second for the CPU types: Kiln's estimate, shown as such. */
export const CPU_CORE_PRICE_PER_SECOND = 0.00001;

const cpu = (name: string, cpuCores: number, memoryGb: number, useCase: string): CpuMachineType => ({
  kind: 'cpu',
  name,
  cpuCores,
  memoryGb,
  pricePerSecond: cpuCores * CPU_CORE_PRICE_PER_SECOND,
  useCase,
});

export const MACHINE_TYPES: readonly MachineType[] = [
  cpu('XS', 0.5, 0.5, 'Tiny helpers, webhooks'),
  cpu('S', 1, 1, 'Light CPU work (the default)'),
  cpu('M', 2, 2, 'Pre- and post-processing'),
  cpu('L', 4, 15, 'CPU inference of small models'),
  cpu('XL', 8, 32, 'Heavy CPU work, large in-memory data'),
  { kind: 'gpu', name: 'GPU-T4', gpu: 'NVIDIA T4', vramGb: 16, vramLabel: '16GB', pricePerSecond: 0.000164, useCase: 'Small models, inference' },
  { kind: 'gpu', name: 'GPU-A10G', gpu: 'NVIDIA A10G', vramGb: 24, vramLabel: '24GB', pricePerSecond: 0.000306, useCase: 'Medium models, SDXL' },
  { kind: 'gpu', name: 'GPU-A100', gpu: 'NVIDIA A100', vramGb: 40, vramLabel: '40GB', pricePerSecond: 0.000556, useCase: 'Large models, training' },
  { kind: 'gpu', name: 'GPU-A100-80GB', gpu: 'NVIDIA A100', vramGb: 80, vramLabel: '80GB', pricePerSecond: 0.000833, useCase: '70B models' },
  { kind: 'gpu', name: 'GPU-H100', gpu: 'NVIDIA H100', vramGb: 80, vramLabel: '80GB', pricePerSecond: 0.001389, useCase: 'Maximum performance' },
  { kind: 'gpu', name: 'GPU-H200', gpu: 'NVIDIA H200', vramGb: 141, vramLabel: '141GB', pricePerSecond: 0.001389, useCase: 'Largest models' },
  { kind: 'gpu', name: 'GPU-B200', gpu: 'NVIDIA B200', vramGb: 180, vramLabel: '180GB+', pricePerSecond: 0.001736, useCase: 'Next-gen workloads' },
];

/** fal's default when an app names no machine type. */
export const DEFAULT_MACHINE_TYPE = 'S';

const byName = new Map(MACHINE_TYPES.map((type) => [type.name, type]));

export function findMachineType(name: string): MachineType | undefined {
  return byName.get(name);
}

export function machineTypeNames(): string[] {
  return MACHINE_TYPES.map((type) => type.name);
}

/** Cheapest first, the order completion offers them in. */
export function machineTypesByPrice(): MachineType[] {
  return [...MACHINE_TYPES].sort((a, b) => a.pricePerSecond - b.pricePerSecond || a.name.localeCompare(b.name));
}

/** One line describing the hardware: "NVIDIA A100, 40GB VRAM" or "2 CPU cores, 2 GB RAM". */
export function describeHardware(type: MachineType): string {
  return type.kind === 'gpu'
    ? `${type.gpu}, ${type.vramLabel} VRAM`
    : `${type.cpuCores} CPU core${type.cpuCores === 1 ? '' : 's'}, ${type.memoryGb} GB RAM`;
}
