/**
 * The page's side of a webview: messages to the extension and from it, typed by
 * src/shared/webviewProtocol.ts, and the state VS Code keeps for the page.
 */

interface VsCodeApi<State> {
  postMessage(message: unknown): void;
  getState(): State | undefined;
  setState(state: State): void;
}

declare function acquireVsCodeApi<State>(): VsCodeApi<State>;

export interface Channel<ToExtension, FromExtension, State> {
  post(message: ToExtension): void;
  onMessage(handler: (message: FromExtension) => void): void;
  state(): State | undefined;
  saveState(state: State): void;
}

export function connect<ToExtension, FromExtension, State>(): Channel<ToExtension, FromExtension, State> {
  // acquireVsCodeApi may be called once per page.
  const api = acquireVsCodeApi<State>();
  return {
    post: (message) => api.postMessage(message),
    onMessage: (handler) => window.addEventListener('message', (event: MessageEvent<FromExtension>) => handler(event.data)),
    state: () => api.getState(),
    saveState: (state) => api.setState(state),
  };
}

/** document.createElement with properties and children, for pages built without a framework. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<Record<string, unknown>> = {}, ...children: (Node | string | null | undefined | false)[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') element.className = String(value);
    else if (key.startsWith('on') && typeof value === 'function') element.addEventListener(key.slice(2).toLowerCase(), value as EventListener);
    else if (key in element) (element as unknown as Record<string, unknown>)[key] = value;
    else element.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child);
  }
  return element;
}
