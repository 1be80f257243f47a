/**
 * The host's GPUs: found with nvidia-smi, matched to machine types by VRAM, and given out whole
 * to runners (through CUDA_VISIBLE_DEVICES).
 */
import { execFile } from 'node:child_process';
import { findMachineType, type GpuMachineType, type MachineType } from '../../appconfig';
import type { GpuInfo } from '../../shared/api';

/** Reported memory is a little under the marketed size (80 GB cards report ~79.6 GiB). */
const VRAM_SLACK = 0.95;

export function detectGpus(): Promise<GpuInfo[]> {
  return new Promise((resolve) => {
    execFile('nvidia-smi', ['--query-gpu=index,name,memory.total,uuid', '--format=csv,noheader,nounits'], { timeout: 10_000 }, (error, stdout) => {
      if (error) {
        resolve([]);
        return;
      }
      resolve(stdout.trim().split('\n').filter(Boolean).map((line) => {
        const [index, name, memory, uuid] = line.split(',').map((field) => field.trim());
        return { index: Number(index), name: name ?? 'GPU', memoryMiB: Number(memory), uuid: uuid ?? '' };
      }));
    });
  });
}

export function gpuFits(gpu: GpuInfo, type: GpuMachineType): boolean {
  return gpu.memoryMiB >= type.vramGb * 1024 * VRAM_SLACK;
}

/** Where a runner will run: on these GPUs, on the CPU, or nowhere yet. */
export type Placement =
  | { kind: 'placed'; machineType: MachineType; gpus: number[]; cpuFallback: boolean }
  /** Matching GPUs exist but all are in use: wait for one. */
  | { kind: 'busy' }
  /** No GPU on this host can ever satisfy the request. */
  | { kind: 'impossible'; message: string };

export class GpuAllocator {
  private readonly inUse = new Set<number>();

  constructor(readonly gpus: GpuInfo[], private readonly fallback: 'cpu' | 'fail') {}

  /** Tries each machine type in the app's fallback order. */
  place(machineTypeNames: string[], numGpus: number): Placement {
    let anyCouldFit = false;
    for (const name of machineTypeNames) {
      const type = findMachineType(name);
      if (!type) continue;
      if (type.kind === 'cpu') return { kind: 'placed', machineType: type, gpus: [], cpuFallback: false };
      const fitting = this.gpus.filter((gpu) => gpuFits(gpu, type));
      if (fitting.length >= numGpus) anyCouldFit = true;
      const free = fitting.filter((gpu) => !this.inUse.has(gpu.index)).slice(0, numGpus);
      if (free.length === numGpus) {
        free.forEach((gpu) => this.inUse.add(gpu.index));
        return { kind: 'placed', machineType: type, gpus: free.map((gpu) => gpu.index), cpuFallback: false };
      }
    }
    if (anyCouldFit) return { kind: 'busy' };
    const wanted = machineTypeNames.map((name) => {
      const type = findMachineType(name);
      return type?.kind === 'gpu' ? `${numGpus} × ${type.name} (${type.vramLabel})` : name;
    }).join(' or ');
    if (this.fallback === 'cpu') {
      return { kind: 'placed', machineType: findMachineType(machineTypeNames[0]!)!, gpus: [], cpuFallback: true };
    }
    const found = this.gpus.length
      ? `this host has ${this.gpus.map((gpu) => `${gpu.name} (${Math.round(gpu.memoryMiB / 1024)} GiB)`).join(', ')}`
      : 'this host has no NVIDIA GPU';
    return { kind: 'impossible', message: `No GPU here can run ${wanted}: ${found}. Choose a machine type this host has, or start the runtime with --gpu-fallback cpu.` };
  }

  release(indexes: number[]): void {
    indexes.forEach((index) => this.inUse.delete(index));
  }

  /** How many runners of this shape the host can hold at once; null when only CPU limits it. */
  capacity(machineTypeNames: string[], numGpus: number): number | null {
    const type = findMachineType(machineTypeNames[0]!);
    if (!type || type.kind === 'cpu') return null;
    const fitting = machineTypeNames.flatMap((name) => {
      const candidate = findMachineType(name);
      return candidate?.kind === 'gpu' ? this.gpus.filter((gpu) => gpuFits(gpu, candidate)) : [];
    });
    const distinct = new Set(fitting.map((gpu) => gpu.index)).size;
    return distinct === 0 ? null : Math.floor(distinct / numGpus);
  }
}
