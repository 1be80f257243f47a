/**
 * How a follow waits between attempts while no runtime runs: the delays by default, or whatever
 * the caller watches for instead (the editor watches for runtime.json to be written).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { followAcrossRestarts, type FollowState, NoRuntimeError } from '../../src/client';

describe('following across restarts, with no runtime', () => {
  it('waits for what the caller watches for, not the delay, before it looks again', async () => {
    const controller = new AbortController();
    let looks = 0;
    let wakeUp!: () => void;
    const waits: unknown[] = [];
    const states: FollowState['state'][] = [];
    const following = followAcrossRestarts(async () => assert.fail('no runtime to open a stream on'), {
      connect: async () => {
        looks++;
        throw new NoRuntimeError('/nowhere');
      },
      signal: controller.signal,
      retryDelaysMs: [1],
      onState: (state) => states.push(state.state),
      waitToRetry: (failure) => {
        waits.push(failure);
        return new Promise<void>((resolve) => { wakeUp = resolve; });
      },
    });
    await waitUntil(() => waits.length === 1);
    // Far past the 1 ms delay: it still waits for the wake-up.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(looks, 1);
    assert.ok(waits[0] instanceof NoRuntimeError, 'the wait is told why');
    wakeUp();
    await waitUntil(() => looks === 2);
    controller.abort();
    wakeUp();
    await following;
    assert.deepEqual(states.slice(0, 4), ['connecting', 'waiting', 'connecting', 'waiting']);
  });

  it('waits the delay when the caller has nothing to watch for', async () => {
    const controller = new AbortController();
    let looks = 0;
    const following = followAcrossRestarts(async () => undefined, {
      connect: async () => {
        looks++;
        throw new NoRuntimeError('/nowhere');
      },
      signal: controller.signal,
      retryDelaysMs: [1],
      waitToRetry: () => undefined,
    });
    await waitUntil(() => looks >= 3);
    controller.abort();
    await following;
  });
});

async function waitUntil(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail('the condition never held');
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
