/**
 * The direct-to-worker baseline: a bare Node `http` server that frames each POST body into the
 * same worker harness running the same app the runtime runs (dist/python/kiln_worker.py in serve
 * mode, same frames, same KILN_MAX_MULTIPLEXING), and sends back what the worker answers. Nothing
 * else stands in between: no routing, token check, input validation, scheduling, logs, metrics or
 * response headers. The runtime's p50 minus this one's is what the runtime itself adds.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { encodeFrame, FrameDecoder } from '../../src/runtime/runners/frames';
import type { InvokeResult, WorkerMessage } from '../../src/runtime/runners/workerProtocol';
import type { Held, Resources } from './resources';

const HARNESS_DIR = path.resolve(__dirname, '..', '..', 'dist', 'python');

interface Worker {
  send(message: unknown): void;
  inFlight: number;
}

export interface WorkerProxy {
  url: string;
  close(): Promise<void>;
}

export interface WorkerProxyOptions {
  python: string;
  appFile: string;
  endpoint: string;
  workers: number;
  maxMultiplexing: number;
}

async function startWorker(options: WorkerProxyOptions, resources: Resources, onResult: (result: InvokeResult) => void): Promise<{ worker: Worker; held: Held }> {
  const child = spawn(options.python, ['-u', '-X', 'utf8', path.join(HARNESS_DIR, 'kiln_worker.py'), '--mode', 'serve', '--app-file', options.appFile], {
    cwd: path.dirname(options.appFile),
    env: {
      ...process.env,
      PYTHONPATH: HARNESS_DIR,
      PYTHONUNBUFFERED: '1',
      PYTHONDONTWRITEBYTECODE: '1',
      KILN_MAX_MULTIPLEXING: String(options.maxMultiplexing),
    },
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
  });
  const held = resources.process('direct worker', child);
  const toWorker = child.stdio[3] as Writable;
  const fromWorker = child.stdio[4] as Readable;
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const ready = new Promise<void>((resolve, reject) => {
    const decoder = new FrameDecoder((raw) => {
      const message = raw as WorkerMessage;
      if (message.type === 'ready') resolve();
      else if (message.type === 'failed') reject(new Error(`the direct worker failed in ${message.phase}: ${message.error.message}`));
      else if (message.type === 'result') onResult(message);
    }, (problem) => reject(new Error(`the direct worker sent ${problem}`)));
    fromWorker.on('data', (chunk: Buffer) => decoder.push(chunk));
    child.once('exit', (code) => reject(new Error(`the direct worker exited with code ${code} before it was ready:\n${stderr}`)));
  });
  await ready;
  return { worker: { send: (message) => toWorker.write(encodeFrame(message)), inFlight: 0 }, held };
}

export async function startWorkerProxy(options: WorkerProxyOptions, resources: Resources): Promise<WorkerProxy> {
  const pending = new Map<string, { worker: Worker; respond(result: InvokeResult): void }>();
  const onResult = (result: InvokeResult) => {
    const entry = pending.get(result.id);
    if (!entry) return;
    pending.delete(result.id);
    entry.worker.inFlight--;
    entry.respond(result);
  };
  const started = await Promise.all(Array.from({ length: options.workers }, () => startWorker(options, resources, onResult)));
  const workers = started.map(({ worker }) => worker);
  let nextId = 0;

  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      let input: unknown;
      try {
        input = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      } catch {
        response.writeHead(400).end();
        return;
      }
      const worker = workers.reduce((best, candidate) => (candidate.inFlight < best.inFlight ? candidate : best));
      const id = `r${nextId++}`;
      worker.inFlight++;
      pending.set(id, {
        worker,
        respond: (result) => {
          response.writeHead(result.ok ? 200 : result.status, { 'content-type': 'application/json; charset=utf-8' });
          response.end(JSON.stringify(result.ok ? result.output ?? null : { detail: result.detail }));
        },
      });
      worker.send({ type: 'invoke', id, path: options.endpoint, input });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const serverHeld = resources.inProcess('direct-to-worker server', async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      await serverHeld.release();
      await Promise.all(started.map(({ held }) => held.release()));
    },
  };
}
