/**
 * The endpoint tester's page. It draws the form for the endpoint the extension names, sends
 * what the form reads (sync, or through the queue), and shows the answer: the status, where the
 * time went, what the request cost, and the body as highlighted JSON with its pictures inline.
 * Drafts, the mode and the last response of each endpoint are kept in the page's state.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import '@vscode-elements/elements/dist/vscode-radio/index.js';
import '@vscode-elements/elements/dist/vscode-radio-group/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-textarea/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import '../../../media/webview/common.css';
import '../../../media/webview/tester.css';
import { formatUsd } from '../../appconfig/cost';
import type {
  EndpointRef, ExtensionToTester, HistoryEntry, InvokeMode, SnippetKind, TesterEndpoint, TesterResponse, TesterToExtension,
} from '../../shared/webviewProtocol';
import { connect, h } from '../vscodeApi';
import { FormView } from './formView';
import { renderJson } from './jsonView';
import { type Draft, draftsOf, type Field, fieldsOf, type JsonValue, readFields } from './schemaForm';

interface PageState {
  mode: InvokeMode;
  /** Per endpoint ("app/path"): the form's drafts and the last response. */
  drafts: Record<string, Record<string, Draft>>;
  responses: Record<string, TesterResponse>;
}

const channel = connect<TesterToExtension, ExtensionToTester, PageState>();
const state: PageState = channel.state() ?? { mode: 'sync', drafts: {}, responses: {} };
// The state holds the last responses, pictures and all: it is written once typing pauses, not
// on every keystroke, and only the newest response keeps its pictures.
let saveTimer: ReturnType<typeof setTimeout> | undefined;
const save = () => {
  clearTimeout(saveTimer);
  saveTimer = setTimeout(() => channel.saveState(state), 300);
};

let endpoint: TesterEndpoint | undefined;
let fields: Field[] = [];
let history: HistoryEntry[] = [];
const keyOf = (target: EndpointRef) => `${target.app}${target.path}`;

// ---- the page's parts -----------------------------------------------------------------------

const root = document.getElementById('root')!;
const switcher = h('vscode-single-select', { class: 'endpoint-switcher', 'aria-label': 'Endpoint', onchange: () => switchEndpoint() });
const endpointUrl = h('code', { class: 'endpoint-url' });
const endpointPrice = h('span', { class: 'endpoint-price' });
const formArea = h('form', { class: 'form', onsubmit: (event: Event) => { event.preventDefault(); send(); } });
const noInputs = h('p', { class: 'hint', hidden: true }, 'This endpoint takes no input.');
const modeGroup = h('vscode-radio-group', { class: 'mode' },
  h('vscode-radio', { class: 'mode-sync', name: 'mode', value: 'sync', label: 'Sync', checked: state.mode === 'sync', onchange: () => setMode('sync') }),
  h('vscode-radio', { class: 'mode-queue', name: 'mode', value: 'queue', label: 'Queue', checked: state.mode === 'queue', onchange: () => setMode('queue') }));
const sendButton = h('vscode-button', { icon: 'play', class: 'send', title: 'Send (Ctrl+Enter)', onclick: () => send() }, 'Send');
const cancelButton = h('vscode-button', { secondary: true, icon: 'debug-stop', hidden: true, onclick: () => channel.post({ type: 'cancel' }) }, 'Cancel');
const copyCurl = h('vscode-button', { secondary: true, icon: 'terminal', title: 'Copy this request as a curl command', onclick: () => copy('curl') }, 'curl');
const copyFal = h('vscode-button', { secondary: true, icon: 'code', title: 'Copy this request as @fal-ai/client code', onclick: () => copy('fal-client') }, '@fal-ai/client');
const historySelect = h('vscode-single-select', { class: 'history', 'aria-label': 'History', onchange: () => pickHistory() });
const progress = h('div', { class: 'progress', hidden: true }, h('vscode-progress-ring'), h('span', { class: 'progress-text' }));
const queueLog = h('pre', { class: 'queue-log', hidden: true });
const response = h('section', { class: 'response', 'aria-live': 'polite' });
const missing = h('div', { class: 'missing', hidden: true });

const request = h('section', { class: 'request' });
root.append(
  h('header', { class: 'endpoint' }, switcher, endpointUrl, endpointPrice),
  missing,
  request,
  progress,
  queueLog,
  response,
);
request.append(noInputs, formArea,
    h('div', { class: 'actions' }, sendButton, cancelButton, modeGroup, h('span', { class: 'spacer' }), h('span', { class: 'copy-label' }, 'Copy as'), copyCurl, copyFal),
    h('div', { class: 'history-row' }, h('span', { class: 'history-label' }, 'History'), historySelect));

const form = new FormView(formArea, [], {}, () => {
  if (endpoint) state.drafts[keyOf(endpoint)] = form.currentDrafts();
  form.showErrors(readFields(fields, form.currentDrafts()).errors);
  save();
});

document.addEventListener('keydown', (event) => {
  if ((event.ctrlKey || event.metaKey) && event.key === 'Enter') {
    event.preventDefault();
    send();
  }
});

// ---- what the extension says ----------------------------------------------------------------

channel.onMessage((message) => {
  // A request's news is about the endpoint it was sent to; once the page shows another, it is old news.
  if ('target' in message && (!endpoint || keyOf(message.target) !== keyOf(endpoint))) return;
  switch (message.type) {
    case 'endpoint':
      showEndpoint(message.endpoint, message.others, message.history, message.input);
      break;
    case 'missing':
      endpoint = undefined;
      missing.hidden = false;
      request.hidden = true;
      response.replaceChildren();
      missing.replaceChildren(h('p', {}, h('span', { class: 'codicon codicon-warning' }), ` ${message.reason}`),
        h('p', { class: 'hint' }, `Deploy the app (▶ Deploy above its class, or "Kiln: Deploy App"), and the tester shows ${message.app}${message.path} again.`));
      setBusy(false);
      break;
    case 'sending':
      setBusy(true, message.mode === 'queue' ? 'Submitting to the queue…' : 'Waiting for the answer…');
      clearQueueLog();
      break;
    case 'queued':
      setBusy(true, message.position > 0 ? `In the queue: position ${message.position}` : 'In the queue…');
      break;
    case 'running':
      setBusy(true, 'Running…');
      break;
    case 'log':
      queueLog.hidden = false;
      queueLog.append(...message.lines.map((line) => `${line}\n`));
      queueLog.scrollTop = queueLog.scrollHeight;
      break;
    case 'response':
      setBusy(false);
      history = message.history;
      fillHistory();
      for (const [key, older] of Object.entries(state.responses)) state.responses[key] = { ...older, images: [] };
      state.responses[keyOf(message.target)] = message.response;
      save();
      showResponse(message.response);
      // The answer shows without the person scrolling for it (the page scrolls; no focus moves).
      response.scrollIntoView({ block: 'nearest' });
      break;
    case 'failed':
      setBusy(false);
      response.replaceChildren(h('div', { class: 'failure' }, h('span', { class: 'codicon codicon-error' }), ` ${message.message}`));
      break;
  }
});

channel.post({ type: 'ready' });

// ---- doing ----------------------------------------------------------------------------------

function clearQueueLog(): void {
  queueLog.replaceChildren();
  queueLog.hidden = true;
}

function showEndpoint(next: TesterEndpoint, others: EndpointRef[], entries: HistoryEntry[], input?: Record<string, unknown>): void {
  // The extension stopped the request it was waiting on for the endpoint shown before.
  if (!endpoint || keyOf(endpoint) !== keyOf(next)) {
    setBusy(false);
    clearQueueLog();
  }
  endpoint = next;
  missing.hidden = true;
  request.hidden = false;
  history = entries;
  fields = fieldsOf(next.inputSchema);
  const key = keyOf(next);
  const drafts = input ? draftsOf(fields, input as Record<string, JsonValue>) : state.drafts[key] ?? draftsOf(fields, entries[0]?.input as Record<string, JsonValue> | undefined);
  state.drafts[key] = drafts;
  save();
  form.reset(fields, drafts);
  noInputs.hidden = fields.length > 0;
  endpointUrl.textContent = `POST ${next.url}`;
  endpointPrice.textContent = next.pricePerSecond > 0 ? `${next.machineType} · ${formatUsd(next.pricePerSecond)}/s` : next.machineType;
  const choices = [...others];
  if (!choices.some((other) => keyOf(other) === key)) choices.unshift({ app: next.app, path: next.path });
  switcher.replaceChildren(...choices.map((choice) => h('vscode-option', { value: keyOf(choice), selected: keyOf(choice) === key }, `${choice.app}${choice.path}`)));
  queueMicrotask(() => { switcher.value = key; });
  fillHistory();
  const last = state.responses[key];
  if (last) showResponse(last);
  else response.replaceChildren();
}

function switchEndpoint(): void {
  const [app, ...rest] = switcher.value.split('/');
  if (!app || (endpoint && keyOf(endpoint) === switcher.value)) return;
  channel.post({ type: 'switchEndpoint', app, path: `/${rest.join('/')}` });
}

function setMode(mode: InvokeMode): void {
  state.mode = mode;
  save();
}

function currentInput(): Record<string, unknown> | undefined {
  const { input, errors } = readFields(fields, form.currentDrafts());
  form.showErrors(errors);
  if (errors.length === 0) return input;
  formArea.querySelector<HTMLElement>('.field-error:not([hidden])')?.scrollIntoView({ block: 'center' });
  return undefined;
}

function send(): void {
  if (!endpoint || sendButton.disabled) return;
  const input = currentInput();
  if (input) channel.post({ type: 'send', input, mode: state.mode });
}

function copy(as: SnippetKind): void {
  const input = currentInput();
  if (input) channel.post({ type: 'copy', as, input });
}

function fillHistory(): void {
  historySelect.replaceChildren(
    h('vscode-option', { value: '' }, history.length ? `${history.length} earlier request(s): pick one to fill the form` : 'No requests sent yet'),
    ...history.map((entry, index) => h('vscode-option', { value: String(index) },
      `${new Date(entry.time).toLocaleString()} · ${entry.status} · ${Math.round(entry.totalMs)} ms · ${entry.mode} · ${summarize(entry.input)}`)));
  queueMicrotask(() => { historySelect.value = ''; });
}

function pickHistory(): void {
  const index = Number(historySelect.value);
  const entry = historySelect.value === '' ? undefined : history[index];
  if (!entry || !endpoint) return;
  const drafts = draftsOf(fields, entry.input as Record<string, JsonValue>);
  state.drafts[keyOf(endpoint)] = drafts;
  save();
  form.reset(fields, drafts);
}

function setBusy(busy: boolean, text = ''): void {
  progress.hidden = !busy;
  progress.querySelector('.progress-text')!.textContent = text;
  sendButton.disabled = busy;
  cancelButton.hidden = !busy;
}

function showResponse(result: TesterResponse): void {
  const ok = result.status >= 200 && result.status < 300;
  const { timing } = result;
  const part = (label: string, ms: number | null) => (ms === null ? null : h('span', { class: 'timing-part' }, h('span', { class: 'timing-label' }, label), ` ${formatMs(ms)}`));
  response.replaceChildren(
    h('div', { class: 'response-summary' },
      h('span', { class: `status ${ok ? 'status-ok' : 'status-error'}` }, `${result.status}${result.errorType ? ` ${result.errorType}` : ''}`),
      h('span', { class: 'timing' },
        part('total', timing.totalMs), part('queue', timing.queueMs), part('cold start', timing.coldStartMs), part('execution', timing.executionMs)),
      result.costUsd === null ? null : h('span', { class: 'cost', title: 'Execution time at the machine type\'s price' }, `≈ ${formatUsd(result.costUsd)}`)),
    h('div', { class: 'response-meta' },
      [result.mode === 'queue' ? 'queue' : 'sync', result.runner && `runner ${result.runner}`, result.revision !== null && `revision ${result.revision}`,
        result.requestId && `request ${result.requestId}`].filter(Boolean).join(' · ')),
    renderJson(result.body, result.images),
  );
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

function summarize(input: Record<string, unknown>): string {
  const text = JSON.stringify(input);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}
