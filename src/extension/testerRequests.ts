/**
 * What the tester does with a request, apart from its page: keep each endpoint's history, find
 * the pictures in a response and fetch them as data: URIs (the page loads nothing from the
 * network, and the runtime's /files/ URLs are on 127.0.0.1 of the machine the runtime runs on,
 * which a browser elsewhere, as with code-server, could not reach), and write the request as curl
 * or as @fal-ai/client code.
 */
import type * as vscode from 'vscode';
import { type HistoryEntry, type InvokeMode, pointerSegment, type ResponseImage } from '../shared/webviewProtocol';

const HISTORY_KEY = 'kiln.tester.history';
const HISTORY_LENGTH = 20;

/** Requests sent per endpoint (newest first), in the workspace's storage: they outlive restarts. */
export class TesterHistory {
  constructor(private readonly memento: vscode.Memento) {}

  of(app: string, path: string): HistoryEntry[] {
    return this.all()[`${app}${path}`] ?? [];
  }

  add(app: string, path: string, entry: HistoryEntry): HistoryEntry[] {
    const all = this.all();
    const key = `${app}${path}`;
    const same = (other: HistoryEntry) => JSON.stringify(other.input) === JSON.stringify(entry.input) && other.mode === entry.mode;
    all[key] = [entry, ...(all[key] ?? []).filter((other) => !same(other))].slice(0, HISTORY_LENGTH);
    void this.memento.update(HISTORY_KEY, all);
    return all[key];
  }

  /** The input last sent to the endpoint, if any. */
  lastInput(app: string, path: string): Record<string, unknown> | undefined {
    return this.of(app, path)[0]?.input;
  }

  private all(): Record<string, HistoryEntry[]> {
    return { ...this.memento.get<Record<string, HistoryEntry[]>>(HISTORY_KEY, {}) };
  }
}

const IMAGE_EXTENSIONS = /\.(png|jpe?g|gif|webp|svg|bmp)(\?.*)?$/i;
const DATA_IMAGE = /^data:image\/[\w.+-]+;base64,/;
/** Pictures past these limits are linked, not shown. */
const MAX_IMAGES = 8;
const MAX_IMAGE_BYTES = 16 * 1024 * 1024;

/** Where a response holds pictures: data:image URIs, and URLs that name an image file or sit beside an image content_type (fal's Image). */
export function findImageRefs(body: unknown, pointer = ''): { pointer: string; ref: string }[] {
  if (typeof body === 'string') {
    return DATA_IMAGE.test(body) || isImageUrl(body) ? [{ pointer, ref: body }] : [];
  }
  if (Array.isArray(body)) return body.flatMap((item, index) => findImageRefs(item, `${pointer}/${index}`));
  if (body && typeof body === 'object') {
    const object = body as Record<string, unknown>;
    const typed = typeof object.content_type === 'string' && object.content_type.startsWith('image/') && typeof object.url === 'string'
      ? [{ pointer: `${pointer}/url`, ref: object.url }] : [];
    const found = Object.entries(object).flatMap(([key, value]) => findImageRefs(value, `${pointer}/${pointerSegment(key)}`));
    return [...typed, ...found.filter((ref) => !typed.some((other) => other.pointer === ref.pointer))];
  }
  return [];
}

function isImageUrl(text: string): boolean {
  if (!/^https?:\/\//.test(text)) return false;
  try {
    return IMAGE_EXTENSIONS.test(new URL(text).pathname);
  } catch {
    return false;
  }
}

/**
 * The response's pictures as data: URIs. Only the runtime's own /files/ are fetched: what an app
 * returns must not make the editor call other addresses (a cloud's metadata service, a port on
 * the user's machine), and the page loads nothing remote. A picture elsewhere, or one that
 * cannot be fetched, is left out; the JSON still links it.
 */
export async function fetchImages(body: unknown, runtimeUrl: string): Promise<ResponseImage[]> {
  const refs = findImageRefs(body).slice(0, MAX_IMAGES);
  const images = await Promise.all(refs.map(async ({ pointer, ref }): Promise<ResponseImage | undefined> => {
    if (ref.startsWith('data:')) return { pointer, dataUri: ref };
    if (!isRuntimeFile(ref, runtimeUrl)) return undefined;
    try {
      const response = await fetch(ref, { signal: AbortSignal.timeout(15_000) });
      const type = response.headers.get('content-type') ?? '';
      const declared = Number(response.headers.get('content-length') ?? 0);
      if (!response.ok || !type.startsWith('image/') || declared > MAX_IMAGE_BYTES) {
        await response.body?.cancel();
        return undefined;
      }
      const bytes = Buffer.from(await response.arrayBuffer());
      if (bytes.length > MAX_IMAGE_BYTES) return undefined;
      return { pointer, dataUri: `data:${type.split(';')[0]};base64,${bytes.toString('base64')}` };
    } catch {
      return undefined;
    }
  }));
  return images.filter((image): image is ResponseImage => image !== undefined);
}

function isRuntimeFile(ref: string, runtimeUrl: string): boolean {
  // URL() resolves dot segments, so /files/../admin is seen as /admin.
  const url = URL.canParse(ref) ? new URL(ref) : undefined;
  return url?.origin === new URL(runtimeUrl).origin && url.pathname.startsWith('/files/');
}

/** A string as one shell word: single quotes, with the quotes inside it escaped. */
function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** The request as a curl command; the token is read from $KILN_TOKEN, never written out. */
export function curlSnippet(runtimeUrl: string, app: string, path: string, input: unknown, mode: InvokeMode): string {
  const endpoint = path === '/' ? '' : path;
  const url = mode === 'queue' ? `${runtimeUrl}/queue/${app}${endpoint}` : `${runtimeUrl}/${app}${endpoint}`;
  return [
    `curl -X POST ${shellQuote(url)}`,
    `  -H "Authorization: Bearer $KILN_TOKEN"`,
    `  -H 'Content-Type: application/json'`,
    `  -d ${shellQuote(JSON.stringify(input))}`,
  ].join(' \\\n');
}

/** The request in @fal-ai/client code, through the runtime's fal proxy. */
export function falClientSnippet(runtimeUrl: string, app: string, path: string, input: unknown, mode: InvokeMode): string {
  const endpointId = `kiln/${app}${path === '/' ? '' : path}`;
  const call = mode === 'queue'
    ? `const result = await fal.subscribe(${JSON.stringify(endpointId)}, {\n  input: ${indent(JSON.stringify(input, null, 2))},\n  logs: true,\n  onQueueUpdate: (update) => console.log(update.status),\n});`
    : `const result = await fal.run(${JSON.stringify(endpointId)}, {\n  input: ${indent(JSON.stringify(input, null, 2))},\n});`;
  return [
    'import { createFalClient } from "@fal-ai/client";',
    '',
    '// A Kiln runtime speaks fal\'s API through its proxy; KILN_TOKEN is the token in its',
    '// runtime.json (`kiln runtime status` says where that is).',
    'const fal = createFalClient({',
    `  proxyUrl: { url: ${JSON.stringify(`${runtimeUrl}/v1/fal-proxy`)}, when: "always" },`,
    '  credentials: process.env.KILN_TOKEN,',
    '});',
    '',
    call,
    'console.log(result.data);',
    '',
  ].join('\n');
}

function indent(text: string): string {
  return text.replace(/\n/g, '\n  ');
}
