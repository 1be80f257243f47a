/**
 * The status bar item, as rust-analyzer keeps its server's: connected (apps live, runners, cost
 * today; a click opens the Kiln view), starting, or stopped and unreachable with the reason in
 * the tooltip and a click that runs the fix. Before anything needed the runtime it is only
 * "Kiln", and its click opens the Kiln view, which looks for the runtime.
 */
import * as vscode from 'vscode';
import { formatUsd } from '../appconfig/cost';
import type { KilnContext } from './ctx';

export function registerStatus(ctx: KilnContext): void {
  const item = vscode.window.createStatusBarItem('kiln.runtime', vscode.StatusBarAlignment.Left, 11);
  item.name = 'Kiln Runtime';
  const render = () => {
    const { state } = ctx.connection;
    item.backgroundColor = undefined;
    const tooltip = new vscode.MarkdownString(undefined, true);
    tooltip.isTrusted = { enabledCommands: ['kiln.startRuntime', 'kiln.connectRuntime', 'kiln.showRuntimeLog', 'kiln.openDashboard', 'kiln.apps.focus'] };
    switch (state.kind) {
      case 'connected': {
        const apps = ctx.model.apps();
        const live = apps.filter((app) => app.state === 'live').length;
        const runners = apps.reduce((sum, app) => sum + app.runners, 0);
        const today = ctx.model.costToday();
        item.text = `$(flame) ${live} app${live === 1 ? '' : 's'} · ${runners} runner${runners === 1 ? '' : 's'}${today === null ? '' : ` · ${formatUsd(today)} today`}`;
        // What the runtime reports goes in as text: the tooltip is trusted with command links.
        tooltip.appendMarkdown(`**Kiln runtime** ${state.remote ? '(remote) ' : ''}at `).appendText(state.health.url).appendMarkdown('\n\n');
        tooltip.appendMarkdown(`${live} of ${apps.length} app(s) live, ${runners} runner(s)${today === null ? '' : `, ${formatUsd(today)} since midnight`}\n\n`);
        tooltip.appendMarkdown('[Open the Kiln view](command:kiln.apps.focus) · [Usage dashboard](command:kiln.openDashboard)');
        item.command = { title: 'Open the Kiln view', command: 'kiln.apps.focus' };
        break;
      }
      case 'idle':
        item.text = '$(flame) Kiln';
        tooltip.appendMarkdown('Kiln looks for its runtime when the Kiln view opens or a Kiln command needs it.\n\n[Open the Kiln view](command:kiln.apps.focus)');
        item.command = { title: 'Open the Kiln view', command: 'kiln.apps.focus' };
        break;
      case 'starting':
        item.text = '$(loading~spin) Kiln: starting';
        tooltip.appendMarkdown(state.what);
        item.command = undefined;
        break;
      case 'stopped':
      case 'unreachable':
        item.text = state.kind === 'stopped' ? '$(circle-slash) Kiln: no runtime' : '$(debug-disconnect) Kiln: unreachable';
        if (state.kind === 'unreachable') item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
        tooltip.appendText(state.reason).appendMarkdown(`\n\n[${state.fix.title}](command:${state.fix.command})`);
        item.command = { title: state.fix.title, command: state.fix.command, arguments: state.fix.arguments ?? [] };
        break;
    }
    item.tooltip = tooltip;
    item.show();
  };
  ctx.subscribe(item, ctx.connection.onDidChangeState(render), ctx.model.onDidChange(render));
  render();
}
