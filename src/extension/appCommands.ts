/**
 * What the apps view's menus (and the palette) do to what runs: scale an app, delete it (after a
 * confirmation), copy its URL, set a secret from a password box, unset one. Scale values are
 * checked with the same rules the runtime and the language server use (src/appconfig).
 */
import * as vscode from 'vscode';
import { optionValueSchemas } from '../appconfig/schema';
import type { ScaleRequest } from '../shared/api';
import type { KilnContext } from './ctx';
import { isViewNode, resolveDeployedApp } from './targets';

export function registerAppCommands(ctx: KilnContext): void {
  ctx.registerCommand('kiln.scaleApp', async (argument?: unknown) => {
    const name = await resolveDeployedApp(ctx, argument, 'scale');
    return name && scaleApp(ctx, name);
  });
  ctx.registerCommand('kiln.deleteApp', async (argument?: unknown) => {
    const name = await resolveDeployedApp(ctx, argument, 'delete');
    return name && deleteApp(ctx, name);
  });
  ctx.registerCommand('kiln.copyUrl', async (argument?: unknown) => {
    const name = await resolveDeployedApp(ctx, argument, 'copy the URL of');
    if (!name) return undefined;
    const app = await ctx.connection.run((client) => client.getApp(name));
    const path = isViewNode(argument) ? argument.path : undefined;
    const url = app.endpoints.find((endpoint) => endpoint.path === path)?.url ?? app.url;
    await vscode.env.clipboard.writeText(url);
    vscode.window.setStatusBarMessage(`$(copy) Copied ${url}`, 3000);
    return url;
  });
  ctx.registerCommand('kiln.setSecret', (argument?: unknown) => setSecret(ctx, isViewNode(argument) ? argument.secret : undefined));
  ctx.registerCommand('kiln.unsetSecret', async (argument?: unknown) => {
    const name = isViewNode(argument) && argument.secret ? argument.secret : await pickSecret(ctx);
    if (!name) return undefined;
    const detail = await ctx.connection.run((client) => client.unsetSecret(name));
    vscode.window.setStatusBarMessage(`$(lock) ${detail}`, 3000);
    return name;
  });
}

type ScaleKey = 'min_concurrency' | 'max_concurrency' | 'keep_alive';

/** "" -> undefined (keep), else a number the option's schema accepts, or the schema's message. */
function readScaleValue(key: ScaleKey, text: string, allowEmpty: boolean): { value?: number | null; error?: string } {
  const trimmed = text.trim();
  if (trimmed === '') return allowEmpty ? { value: null } : { error: `${key} needs a value` };
  const parsed = optionValueSchemas[key].safeParse(Number(trimmed));
  if (!/^-?\d+(\.\d+)?$/.test(trimmed) || !parsed.success) {
    return { error: `${key} must be ${parsed.success ? 'a number' : parsed.error.issues[0]?.message.replace(/^must be /, '') ?? 'a number'}` };
  }
  return { value: parsed.data };
}

async function scaleApp(ctx: KilnContext, name: string): Promise<unknown> {
  const app = await ctx.connection.run((client) => client.getApp(name));
  const asks: { key: ScaleKey; field: keyof ScaleRequest; current: number | null; prompt: string; allowEmpty: boolean }[] = [
    { key: 'min_concurrency', field: 'minConcurrency', current: app.scale.minConcurrency, prompt: 'Runners kept ready at all times', allowEmpty: false },
    { key: 'max_concurrency', field: 'maxConcurrency', current: app.scale.maxConcurrency, prompt: 'The most runners (empty: as many as the host holds)', allowEmpty: true },
    { key: 'keep_alive', field: 'keepAlive', current: app.scale.keepAlive, prompt: 'Seconds an idle runner stays warm (0: scale to zero at once)', allowEmpty: false },
  ];
  const change: ScaleRequest = {};
  for (const [index, ask] of asks.entries()) {
    const minimum = change.minConcurrency ?? app.scale.minConcurrency;
    const text = await vscode.window.showInputBox({
      title: `Scale ${name} (${index + 1}/${asks.length}): ${ask.key}`,
      prompt: ask.prompt,
      value: ask.current === null ? '' : String(ask.current),
      ignoreFocusOut: true,
      validateInput: (value) => {
        const read = readScaleValue(ask.key, value, ask.allowEmpty);
        if (read.error) return read.error;
        if (ask.key === 'max_concurrency' && typeof read.value === 'number' && read.value < minimum) {
          return `max_concurrency must be at least min_concurrency (${minimum})`;
        }
        return undefined;
      },
    });
    if (text === undefined) return undefined;
    const { value } = readScaleValue(ask.key, text, ask.allowEmpty);
    if (value !== ask.current) (change as Record<string, number | null | undefined>)[ask.field] = value;
  }
  if (Object.keys(change).length === 0) {
    vscode.window.setStatusBarMessage(`${name}: scale settings unchanged`, 3000);
    return app;
  }
  const scaled = await ctx.connection.run((client) => client.scale(name, change));
  vscode.window.setStatusBarMessage(`$(check) Scaled ${name}: min ${scaled.scale.minConcurrency}, max ${scaled.scale.maxConcurrency ?? 'host limit'}, keep_alive ${scaled.scale.keepAlive} s`, 5000);
  return scaled;
}

async function deleteApp(ctx: KilnContext, name: string): Promise<string | undefined> {
  const choice = await vscode.window.showWarningMessage(`Delete ${name}?`, {
    modal: true,
    detail: 'Its runners stop and its revisions, saved files and logs are removed. Volumes stay.',
  }, 'Delete');
  if (choice !== 'Delete') return undefined;
  const detail = await ctx.connection.run((client) => client.deleteApp(name));
  vscode.window.setStatusBarMessage(`$(trash) ${detail}`, 3000);
  return name;
}

async function setSecret(ctx: KilnContext, givenName: string | undefined): Promise<string | undefined> {
  const name = givenName ?? await vscode.window.showInputBox({
    title: 'Set a secret (1/2): name',
    prompt: 'Apps that list it in `secrets` get it as an environment variable of this name',
    placeHolder: 'HF_TOKEN',
    ignoreFocusOut: true,
    validateInput: (value) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(value.trim()) ? undefined
      : 'Use letters, digits and "_", not starting with a digit (an environment variable name)'),
  });
  if (!name) return undefined;
  const value = await vscode.window.showInputBox({
    title: `Set a secret (2/2): the value of ${name.trim()}`,
    prompt: 'Stored encrypted by the runtime; it is never shown again',
    password: true,
    ignoreFocusOut: true,
    validateInput: (text) => (text === '' ? 'A secret cannot be empty' : undefined),
  });
  if (value === undefined) return undefined;
  await ctx.connection.run((client) => client.setSecret(name.trim(), value));
  vscode.window.setStatusBarMessage(`$(lock) Set ${name.trim()}`, 3000);
  return name.trim();
}

async function pickSecret(ctx: KilnContext): Promise<string | undefined> {
  const secrets = await ctx.connection.run((client) => client.listSecrets());
  if (secrets.length === 0) throw new Error('no secrets are set on the runtime');
  return vscode.window.showQuickPick(secrets.map((secret) => secret.name), { title: 'Unset which secret?' });
}
