/**
 * What the HTTP fuzzing of the runtime and of the container's serve mode share: the bounds, one
 * request sent as any client could, a raw exchange over TCP, and the bodies and bytes to send.
 */
import http from 'node:http';
import net from 'node:net';
import fc from 'fast-check';

export const ANSWER_WITHIN_MS = 15_000;
/** KILN_FUZZ_SCALE=20 looks twenty times harder (and longer) than CI does. */
export const SCALE = Number(process.env.KILN_FUZZ_SCALE ?? '1');
export const TIME_LIMIT_MS = 60_000 * SCALE;

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request with node:http (which sends any path it is given), answered when its headers arrive. */
export function send(base: string, method: string, target: string, headers: Record<string, string>, body?: string): Promise<Answer | 'not sent'> {
  const url = new URL(base);
  // With its length given, as clients send a body they hold whole (not chunked).
  const sent = body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) };
  return new Promise((resolve, reject) => {
    let request: http.ClientRequest;
    try {
      request = http.request({ host: url.hostname, port: url.port, method, path: target, headers: sent, agent: false }, (response) => {
        clearTimeout(timer);
        if (String(response.headers['content-type']).startsWith('text/event-stream')) {
          // A stream is answered once it starts; it is not read to an end it need not have.
          response.destroy();
          resolve({ status: response.statusCode!, headers: response.headers, body: '' });
          return;
        }
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => { body += chunk; });
        response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body }));
        response.on('error', reject);
      });
    } catch {
      resolve('not sent'); // node:http refuses the path or a header itself: nothing reached the runtime
      return;
    }
    const timer = setTimeout(() => {
      request.destroy();
      reject(new Error(`${method} ${target} was not answered within ${ANSWER_WITHIN_MS} ms`));
    }, ANSWER_WITHIN_MS);
    request.on('error', (error) => { clearTimeout(timer); reject(error); });
    request.end(body);
  });
}

/** A JSON-ish body: any JSON value, nesting to any depth, text that is not JSON, or nothing. */
const nestedText = fc.tuple(fc.integer({ min: 1, max: 400 }), fc.constantFrom('[', '{"a":')).map(([levels, open]) =>
  `${open.repeat(levels)}0${(open === '[' ? ']' : '}').repeat(levels)}`);
export const bodies = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 5 }).map((value) => JSON.stringify(value)) },
  { weight: 3, arbitrary: fc.record({ count: fc.jsonValue(), scale: fc.jsonValue(), flag: fc.jsonValue(), tags: fc.jsonValue(), weights: fc.jsonValue(), mode: fc.jsonValue(), value: fc.jsonValue() }, { requiredKeys: [] }).map((value) => JSON.stringify(value)) },
  { weight: 2, arbitrary: nestedText.map((text) => `{"value": ${text}}`) },
  { weight: 1, arbitrary: fc.constant(`{"value": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  { weight: 1, arbitrary: fc.jsonValue().map((value) => JSON.stringify(value).slice(0, -1)) },
  { weight: 1, arbitrary: fc.constant('') },
);

/** Bytes that are not quite HTTP, after a request line or none. */
export const malformedHttp = fc.tuple(
  fc.constantFrom('GET / HTTP/1.1\r\n', 'POST /fuzz-target/any HTTP/1.1\r\n', '', 'GET /v1/health HTTP/1.0\r\n', 'POST /any HTTP/1.1\r\nContent-Length: 5\r\n'),
  fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.stringMatching(/^[\x00-\x7f]{0,300}$/)),
).map(([start, rest]) => `${start}${rest}\r\n\r\n`);

/** Sends raw bytes and resolves with everything the server wrote before it closed the connection. */
export function exchangeRaw(port: number, host: string, text: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const socket = net.connect(port, host);
    let received = '';
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer to ${JSON.stringify(text).slice(0, 200)}`)); }, ANSWER_WITHIN_MS);
    socket.on('data', (chunk) => { received += chunk.toString('latin1'); });
    socket.on('close', () => { clearTimeout(timer); resolve(received); });
    socket.on('error', () => undefined);
    socket.end(text, 'latin1');
  });
}

/** What the server answered malformed HTTP: nothing (it closed), or a 4xx in fal's shape. */
export function checkMalformedAnswer(reply: string): void {
  if (reply === '') return;
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(reply)?.[1]);
  if (!(status < 500)) throw new Error(`a 5xx (or no status) for malformed HTTP: ${reply.slice(0, 300)}`);
  if (status >= 400 && !/\r\n\r\n\{"detail":/.test(reply)) throw new Error(`not fal's shape: ${reply.slice(0, 300)}`);
}
