// Starts code-server (VS Code in a browser, installed by test/vscode/install-code-server.sh) and
// opens its workbench in Debian's Chromium. The extension-host suite (test/vscode/launch.mjs)
// and the Playwright end-to-end tests (test/e2e) both drive VS Code through this module.
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createWriteStream, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const codeServerVersion = '4.100.3';

const installScript = 'test/vscode/install-code-server.sh';

/** Where install-code-server.sh puts code-server; KILN_CACHE_DIR moves the whole cache. */
export function codeServerInstallDir() {
  return path.join(process.env.KILN_CACHE_DIR ?? path.join(repoRoot, '.cache'), 'code-server');
}

function codeServerBinary() {
  const binary = path.join(codeServerInstallDir(), 'node_modules', '.bin', 'code-server');
  if (!existsSync(binary)) {
    const cacheDir = process.env.KILN_CACHE_DIR ? ` with the same KILN_CACHE_DIR` : '';
    throw new Error(`code-server ${codeServerVersion} is not installed in ${codeServerInstallDir()}. ` +
      `Run ${installScript}${cacheDir} first.`);
  }
  return binary;
}

/**
 * Starts code-server on a free port of 127.0.0.1, with a fresh user-data and extensions folder
 * under a new temp folder (`root`). `env` is added to its environment, which the extension host
 * inherits: that is how a test run hands settings to code running inside VS Code.
 */
export async function startCodeServer({ env = {}, startTimeoutMs = 60_000 } = {}) {
  const binary = codeServerBinary();
  const root = await mkdtemp(path.join(os.tmpdir(), 'kiln-code-server-'));
  const userDataDir = path.join(root, 'user-data');
  const extensionsDir = path.join(root, 'extensions');
  // The extension host's temp files (the git extension's IPC sockets, for one) outlive a killed
  // host; kept under root, they go when it does.
  const tmpDir = path.join(root, 'tmp');
  mkdirSync(userDataDir);
  mkdirSync(extensionsDir);
  mkdirSync(tmpDir);
  const logFile = path.join(root, 'code-server.log');
  const log = createWriteStream(logFile);

  const child = spawn(binary, [
    // Its own config file: code-server otherwise writes one with a password into ~/.config.
    '--config', path.join(root, 'config.yaml'),
    '--auth', 'none',
    '--bind-addr', '127.0.0.1:0',
    '--user-data-dir', userDataDir,
    '--extensions-dir', extensionsDir,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
  ], {
    env: { ...process.env, TMPDIR: tmpDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // A process group of its own, so stopping it also stops the extension host and the other
    // processes it spawns.
    detached: true,
  });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const server = new CodeServer({ child, exited, root, userDataDir, extensionsDir, logFile, log });
  try {
    server.url = await server.listening(startTimeoutMs);
  } catch (error) {
    await server.stop({ keepFiles: true });
    throw error;
  }
  return server;
}

export class CodeServer {
  /** @type {URL} */
  url;

  /** Extension host processes that ended, as code-server logged them: { pid, code, signal }. */
  extensionHostExits = [];

  constructor({ child, exited, root, userDataDir, extensionsDir, logFile, log }) {
    this.child = child;
    this.exited = exited;
    this.root = root;
    this.userDataDir = userDataDir;
    this.extensionsDir = extensionsDir;
    this.logFile = logFile;
    this.log = log;
    this.running = true;
    exited.then(() => { this.running = false; });
    this.lines = new EventEmitter();
    let partial = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop();
      for (const line of lines) {
        this.lines.emit('line', line);
      }
    });
    this.lines.on('line', (line) => {
      const exit = /<(\d+)> Extension Host Process exited with code: (\S+), signal: (\S+)\./.exec(line);
      if (exit) {
        this.extensionHostExits.push({ pid: Number(exit[1]), code: exit[2], signal: exit[3] });
      }
    });
  }

  // code-server picks the port itself (--bind-addr 127.0.0.1:0) and logs the address it got.
  listening(timeoutMs) {
    return new Promise((resolve, reject) => {
      const onLine = (line) => {
        const match = /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+)\//.exec(line);
        if (match) {
          finish();
          resolve(new URL(match[1]));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`code-server did not start listening within ${timeoutMs / 1000} s; see ${this.logFile}`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.lines.off('line', onLine);
      };
      this.lines.on('line', onLine);
      this.exited.then(({ code, signal }) => {
        finish();
        reject(new Error(`code-server exited (${signal ?? `code ${code}`}) before listening; see ${this.logFile}. ` +
          `If its install is broken, delete ${codeServerInstallDir()} and run ${installScript} again.`));
      });
    });
  }

  /** A path on this machine as the workbench's remote file system names it. */
  remoteUri(localPath) {
    return `vscode-remote://${this.url.host}${path.resolve(localPath)}`;
  }

  /**
   * The workbench URL that opens `folder`, optionally with an extension under development and
   * the module whose run() export is its test suite (the same pair desktop VS Code takes as
   * --extensionDevelopmentPath and --extensionTestsPath).
   */
  workbenchUrl({ folder, extensionDevelopmentPath, extensionTestsPath } = {}) {
    const url = new URL(this.url);
    if (folder) {
      url.searchParams.set('folder', path.resolve(folder));
    }
    const payload = [];
    if (extensionDevelopmentPath) {
      payload.push(['extensionDevelopmentPath', this.remoteUri(extensionDevelopmentPath)]);
    }
    if (extensionTestsPath) {
      payload.push(['extensionTestsPath', this.remoteUri(extensionTestsPath)]);
    }
    if (payload.length > 0) {
      url.searchParams.set('payload', JSON.stringify(payload));
    }
    return url.href;
  }

  /** The newest session's log folder (remoteagent.log, exthost*), or undefined before one. */
  sessionLogDir() {
    const logs = path.join(this.userDataDir, 'logs');
    if (!existsSync(logs)) {
      return undefined;
    }
    const sessions = readdirSync(logs).map((name) => path.join(logs, name))
      .filter((dir) => statSync(dir).isDirectory())
      .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
    return sessions[0];
  }

  /** The extension host logs of the newest session, oldest host first (exthost1, exthost2, ...). */
  extensionHostLogs() {
    const session = this.sessionLogDir();
    if (!session) {
      return [];
    }
    return readdirSync(session)
      .filter((name) => /^exthost\d+$/.test(name))
      .sort((a, b) => Number(a.slice('exthost'.length)) - Number(b.slice('exthost'.length)))
      .map((name) => path.join(session, name, 'remoteexthost.log'))
      .filter((file) => existsSync(file));
  }

  /**
   * Stops code-server and everything it spawned, and by default deletes its temp folder.
   * Pass keepFiles to leave the logs for someone to read.
   */
  async stop({ keepFiles = false } = {}) {
    if (this.running) {
      this.signal('SIGTERM');
      const stopped = await Promise.race([
        this.exited.then(() => true),
        new Promise((resolve) => setTimeout(() => resolve(false), 5_000)),
      ]);
      if (!stopped) {
        this.signal('SIGKILL');
        await this.exited;
      }
    }
    // The extension host and pty host outlive a SIGTERM to code-server itself.
    this.signal('SIGKILL');
    // 'exit' can come before the last output; unpiped, that output cannot hit an ended log.
    this.child.stdout.unpipe(this.log);
    this.child.stderr.unpipe(this.log);
    this.log.end();
    if (!keepFiles) {
      await rm(this.root, { recursive: true, force: true });
    }
  }

  /** Synchronous last resort for a process 'exit' handler, where nothing can be awaited. */
  kill() {
    this.signal('SIGKILL');
  }

  signal(name) {
    try {
      process.kill(-this.child.pid, name);
    } catch (error) {
      // ESRCH: the group is already gone, which is what stopping wants.
      if (error.code !== 'ESRCH') {
        throw error;
      }
    }
  }
}

export const chromiumPath = process.env.KILN_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Opens `url` in a headless Chromium and waits for the VS Code workbench to render. The caller
 * closes the returned browser. Browser console messages go to `consoleLogFile` when given, since
 * workbench errors (a failed extension host connection, for one) show up only there.
 */
export async function openWorkbench(url, { consoleLogFile, timeoutMs = 60_000 } = {}) {
  if (!existsSync(chromiumPath)) {
    throw new Error(`No Chromium at ${chromiumPath}. Install it (apt-get install -y chromium) or point ` +
      'KILN_CHROMIUM at a Chromium or Chrome binary.');
  }
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run'],
    // The caller owns shutdown (it stops code-server too); Playwright's own signal handlers
    // would close the browser behind its back.
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
  try {
    const page = await browser.newPage();
    if (consoleLogFile) {
      const consoleLog = createWriteStream(consoleLogFile);
      page.on('console', (message) => consoleLog.write(`[${message.type()}] ${message.text()}\n`));
      page.on('pageerror', (error) => consoleLog.write(`[pageerror] ${error.stack ?? error.message}\n`));
      browser.on('disconnected', () => consoleLog.end());
    }
    await page.goto(url);
    await page.locator('.monaco-workbench').waitFor({ timeout: timeoutMs });
    return { browser, page };
  } catch (error) {
    await browser.close();
    throw error;
  }
}
