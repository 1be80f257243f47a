/** The machine-type catalog and the cost model every hover, hint, warning and meter quotes. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  costOfRunnerSeconds, DEFAULT_MACHINE_TYPE, describeHardware, findMachineType, formatDuration, formatUsd, HOURS_PER_MONTH,
  idleTailPerBurst, type MachineType, machineTypeNames, machineTypesByPrice, monthlyFloor, runnerRate,
} from '../../src/appconfig';

/** Float products (0.000556 * 3600) are not exact; cents-and-below precision is what users see. */
const near = (actual: number, expected: number) =>
  assert.ok(Math.abs(actual - expected) < 1e-9 * Math.max(1, Math.abs(expected)), `${actual} is not ${expected}`);

function type(name: string): MachineType {
  const found = findMachineType(name);
  assert.ok(found, `${name} is not in the catalog`);
  return found;
}

describe('the catalog', () => {
  // The table in the spec (Machine Types and Pricing, 2025), copied as written.
  const SPEC_GPU_TABLE: [name: string, gpu: string, vram: string, perSecond: number, useCase: string][] = [
    ['GPU-T4', 'NVIDIA T4', '16GB', 0.000164, 'Small models, inference'],
    ['GPU-A10G', 'NVIDIA A10G', '24GB', 0.000306, 'Medium models, SDXL'],
    ['GPU-A100', 'NVIDIA A100', '40GB', 0.000556, 'Large models, training'],
    ['GPU-A100-80GB', 'NVIDIA A100', '80GB', 0.000833, '70B models'],
    ['GPU-H100', 'NVIDIA H100', '80GB', 0.001389, 'Maximum performance'],
    ['GPU-H200', 'NVIDIA H200', '141GB', 0.001389, 'Largest models'],
    ['GPU-B200', 'NVIDIA B200', '180GB+', 0.001736, 'Next-gen workloads'],
  ];

  for (const [name, gpu, vram, perSecond, useCase] of SPEC_GPU_TABLE) {
    it(`has ${name} at the spec's $${perSecond}/s`, () => {
      const found = type(name);
      assert.equal(found.kind, 'gpu');
      assert.equal(found.pricePerSecond, perSecond);
      assert.equal(found.useCase, useCase);
      if (found.kind !== 'gpu') return;
      assert.equal(found.gpu, gpu);
      assert.equal(found.vramLabel, vram);
      assert.equal(found.vramGb, Number.parseInt(vram, 10));
    });
  }

  it('has exactly the spec\'s GPU types, and CPU types only by fal\'s names', () => {
    const names = machineTypeNames();
    assert.deepEqual(names.filter((name) => type(name).kind === 'gpu'), SPEC_GPU_TABLE.map(([name]) => name));
    const cpu = names.filter((name) => type(name).kind === 'cpu');
    assert.ok(cpu.length > 0 && cpu.every((name) => ['XS', 'S', 'M', 'L', 'XL'].includes(name)), cpu.join(', '));
  });

  it('prices CPU types per core and defaults to "S", as fal does', () => {
    assert.equal(DEFAULT_MACHINE_TYPE, 'S');
    assert.equal(type('S').kind, 'cpu');
    near(type('L').pricePerSecond, 4 * type('S').pricePerSecond);
    near(type('XS').pricePerSecond, type('S').pricePerSecond / 2);
  });

  it('is case-sensitive, like fal', () => {
    assert.equal(findMachineType('gpu-a100'), undefined);
    assert.equal(findMachineType('GPU-A100 '), undefined);
  });

  it('orders by price, cheapest first, ties by name', () => {
    const ordered = machineTypesByPrice();
    assert.equal(ordered[0]!.name, 'XS');
    assert.deepEqual(ordered.filter((machine) => machine.kind === 'gpu').map((machine) => machine.name),
      ['GPU-T4', 'GPU-A10G', 'GPU-A100', 'GPU-A100-80GB', 'GPU-H100', 'GPU-H200', 'GPU-B200']);
    ordered.slice(1).forEach((machine, index) => assert.ok(ordered[index]!.pricePerSecond <= machine.pricePerSecond));
  });

  it('describes hardware in one line', () => {
    assert.equal(describeHardware(type('GPU-A100')), 'NVIDIA A100, 40GB VRAM');
    assert.equal(describeHardware(type('GPU-B200')), 'NVIDIA B200, 180GB+ VRAM');
    assert.equal(describeHardware(type('S')), '1 CPU core, 1 GB RAM');
    assert.equal(describeHardware(type('M')), '2 CPU cores, 2 GB RAM');
  });
});

describe('runnerRate', () => {
  it('is the spec price per second and 3600 times it per hour', () => {
    const rate = runnerRate(type('GPU-A100'));
    assert.equal(rate.perSecond, 0.000556);
    near(rate.perHour, 2.0016);
  });

  it('multiplies by num_gpus on GPU types: each GPU is billed', () => {
    const rate = runnerRate(type('GPU-H100'), 4);
    near(rate.perSecond, 0.005556);
    near(rate.perHour, 20.0016);
  });

  it('ignores num_gpus on CPU types', () => {
    assert.deepEqual(runnerRate(type('M'), 4), runnerRate(type('M')));
    near(runnerRate(type('M'), 4).perHour, 0.072);
  });
});

describe('monthlyFloor', () => {
  it('bills min_concurrency runners around the clock for a 730-hour month', () => {
    assert.equal(HOURS_PER_MONTH, 730);
    // 2 x H100 runners: $0.001389 x 3600 x 730 x 2
    near(monthlyFloor(runnerRate(type('GPU-H100')), 2), 7300.584);
    assert.equal(formatUsd(monthlyFloor(runnerRate(type('GPU-H100')), 2)), '$7,301');
  });

  it('is nothing when min_concurrency is 0', () => {
    assert.equal(monthlyFloor(runnerRate(type('GPU-B200'), 8), 0), 0);
  });
});

describe('idleTailPerBurst and costOfRunnerSeconds', () => {
  it('price a runner held idle for keep_alive seconds', () => {
    near(idleTailPerBurst(runnerRate(type('GPU-A10G')), 300), 0.0918);
    assert.equal(formatUsd(idleTailPerBurst(runnerRate(type('GPU-A10G')), 300)), '$0.092');
    assert.equal(idleTailPerBurst(runnerRate(type('GPU-A10G')), 0), 0);
  });

  it('price runner-seconds already used, per GPU', () => {
    near(costOfRunnerSeconds(runnerRate(type('GPU-T4'), 2), 1000), 0.328);
  });
});

describe('formatUsd', () => {
  const cases: [number, string][] = [
    [0, '$0'],
    [0.000164, '$0.000164'],
    [0.000556, '$0.000556'],
    [0.0000123456, '$0.0000123'],
    [0.0123, '$0.012'],
    [0.0918, '$0.092'],
    [0.09999, '$0.10'],
    [0.5904, '$0.59'],
    [2, '$2.00'],
    [4.0032, '$4.00'],
    [999.5, '$999.50'],
    [1460, '$1,460'],
    [7300.584, '$7,301'],
    [1234567.8, '$1,234,568'],
    // A sliver of a cent (a millisecond on a CPU type) shows as nothing, not "$0.".
    [0.000000001, '$0'],
  ];
  for (const [amount, text] of cases) {
    it(`${amount} -> ${text}`, () => assert.equal(formatUsd(amount), text));
  }
});

describe('formatDuration', () => {
  const cases: [number, string][] = [
    [0, '0 s'],
    [45, '45 s'],
    [59.6, '1 min'],
    [60, '1 min'],
    [300, '5 min'],
    [3600, '1 h'],
    [5400, '1 h 30 min'],
    // Two units at most, the largest first.
    [3661, '1 h 1 min'],
    [187200, '2 d 4 h'],
    [2592000, '30 d'],
  ];
  for (const [seconds, text] of cases) {
    it(`${seconds} -> ${text}`, () => assert.equal(formatDuration(seconds), text));
  }
});
