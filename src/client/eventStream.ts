/**
 * Reads a server-sent event stream from a fetch response body and hands each event's JSON
 * payload to a callback, in order. The runtime sends one `data:` JSON object per event.
 */
import { createParser } from 'eventsource-parser';

/** An event larger than this is a broken stream, not a log line or a deploy step. */
const MAX_EVENT_CHARS = 8 * 1024 * 1024;

export class EventStreamError extends Error {
  override readonly name = 'EventStreamError';
}

/**
 * Resolves when the server ends the stream; rejects with the fetch's AbortError when its signal
 * fires, with EventStreamError when an event is not JSON, or with what `onEvent` throws.
 */
export async function readJsonEvents<T>(body: ReadableStream<Uint8Array>, onEvent: (event: T) => void): Promise<void> {
  let failure: Error | undefined;
  const parser = createParser({
    maxBufferSize: MAX_EVENT_CHARS,
    onEvent: ({ data }) => {
      if (failure) return;
      let event: T;
      try {
        event = JSON.parse(data) as T;
      } catch {
        failure = new EventStreamError(`the runtime sent an event that is not JSON: ${data.slice(0, 200)}`);
        return;
      }
      onEvent(event);
    },
    onError: (error) => {
      if (error.type === 'max-buffer-size-exceeded') failure ??= new EventStreamError('the runtime sent an event over 8 MB');
    },
  });
  const decoder = new TextDecoder();
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
      if (failure) throw failure;
    }
    parser.feed(decoder.decode());
    if (failure) throw failure;
  } catch (error) {
    // Close the connection rather than leave the rest of a broken stream unread.
    await reader.cancel().catch(() => undefined);
    throw error;
  } finally {
    reader.releaseLock();
  }
}
