/**
 * What happens on the runtime (deploys, apps, runners, secrets), published as it happens to
 * whoever watches `GET /v1/events`. Nothing is kept: a watcher that connects reads the current
 * state through the API first, then follows the changes.
 */
import type { RuntimeEvent, RuntimeEventRecord } from '../../shared/api';

export type EventListener = (event: RuntimeEventRecord) => void;

export class EventBus {
  private seq = 0;
  private readonly listeners = new Set<EventListener>();

  publish(event: RuntimeEvent): void {
    const record: RuntimeEventRecord = { ...event, seq: ++this.seq, time: new Date().toISOString() };
    for (const listener of this.listeners) {
      // One watcher's failure (a socket gone mid-write) must not keep the event from the others.
      try {
        listener(record);
      } catch {
        this.listeners.delete(listener);
      }
    }
  }

  /** Returns the function that stops the listener. */
  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }
}
