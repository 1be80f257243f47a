/**
 * Kiln's webview panels (the tester, the dashboard) and the page around their bundle
 * (dist/webview/NAME.js): a strict Content Security Policy
 * (nothing but the extension's own files; the one script by its nonce; images from those files
 * or data: URIs, which is how the tester shows pictures an app returns), the codicon font, and
 * the bundle's stylesheet (dist/webview/NAME.css, which esbuild makes from media/webview/).
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';

export interface KilnPanelOptions<Message> {
  viewType: string;
  title: string;
  column: vscode.ViewColumn | { viewColumn: vscode.ViewColumn; preserveFocus: boolean };
  /** The bundle in dist/webview/ the page runs, and the page's own title. */
  bundle: string;
  pageTitle: string;
  /** Checks what the page sends: a message it does not know comes back undefined and is dropped. */
  parse(raw: unknown): Message | undefined;
  receive(message: Message): void;
  disposed(): void;
}

/**
 * A panel showing one of Kiln's webview pages, whose messages are checked before they are acted
 * on, and whose listeners go with it: a panel opened again starts clean.
 */
export function createKilnPanel<Message>(extensionUri: vscode.Uri, options: KilnPanelOptions<Message>): vscode.WebviewPanel {
  const panel = vscode.window.createWebviewPanel(options.viewType, options.title, options.column, webviewOptions(extensionUri));
  panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'kiln.svg');
  panel.webview.html = webviewHtml(panel.webview, extensionUri, options.bundle, options.pageTitle);
  const listeners = [
    panel.webview.onDidReceiveMessage((raw: unknown) => {
      const message = options.parse(raw);
      if (message) options.receive(message);
    }),
    panel.onDidDispose(() => {
      listeners.forEach((listener) => listener.dispose());
      options.disposed();
    }),
  ];
  return panel;
}

function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions & vscode.WebviewPanelOptions {
  return {
    enableScripts: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview')],
    retainContextWhenHidden: true,
  };
}

function webviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, name: string, title: string): string {
  const nonce = randomBytes(16).toString('base64');
  const asset = (...parts: string[]) => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, ...parts)).toString();
  const policy = [
    "default-src 'none'",
    `img-src ${webview.cspSource} data:`,
    `style-src ${webview.cspSource}`,
    `font-src ${webview.cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${policy}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${asset('dist', 'webview', 'codicon.css')}" id="vscode-codicon-stylesheet">
<link rel="stylesheet" href="${asset('dist', 'webview', `${name}.css`)}">
<title>${title}</title>
</head>
<body>
<main id="root"></main>
<script nonce="${nonce}" src="${asset('dist', 'webview', `${name}.js`)}"></script>
</body>
</html>`;
}
