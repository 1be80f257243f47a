/**
 * The Kiln language server: diagnostics, completion, hover, quick fixes, CodeLens and inlay
 * hints for Python files that import fal. Started by the extension over IPC.
 */
import {
  createConnection, type InitializeResult, ProposedFeatures, TextDocumentSyncKind,
} from 'vscode-languageserver/node';
import { createPythonParser } from '../pyparse';
import {
  DEFAULT_SERVER_SETTINGS, DOCUMENT_APPS_REQUEST, type DocumentApp, type DocumentAppsParams, type ServerSettings, SETTINGS_NOTIFICATION,
} from '../shared/protocol';
import { type Analysis, AnalysisCache } from './analysis';
import { codeActionsFor } from './codeActions';
import { codeLensesFor, documentApps } from './codeLens';
import { completionsAt } from './completion';
import { diagnosticsFor } from './diagnostics';
import { hoverAt } from './hover';
import { inlayHintsFor } from './inlayHints';

const connection = createConnection(ProposedFeatures.all);
let cache: AnalysisCache;
let settings: ServerSettings = DEFAULT_SERVER_SETTINGS;

connection.onInitialize(async (params): Promise<InitializeResult> => {
  cache = new AnalysisCache(await createPythonParser());
  settings = { ...DEFAULT_SERVER_SETTINGS, ...(params.initializationOptions as Partial<ServerSettings> | undefined) };
  return {
    capabilities: {
      textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental },
      completionProvider: { triggerCharacters: ['"', "'", '(', ',', ' '] },
      hoverProvider: true,
      codeActionProvider: { codeActionKinds: ['quickfix'] },
      codeLensProvider: { resolveProvider: false },
      inlayHintProvider: true,
    },
    serverInfo: { name: 'kiln' },
  };
});

connection.onNotification(SETTINGS_NOTIFICATION, (next: ServerSettings) => {
  settings = next;
  connection.languages.inlayHint.refresh().catch(() => undefined);
});

/** Only files that import fal are ours; for any other file every feature answers nothing. */
function falAnalysis(uri: string): Analysis | undefined {
  const analysis = cache.get(uri);
  return analysis?.file.importsFal ? analysis : undefined;
}

function publish(analysis: Analysis | undefined): void {
  if (!analysis) return;
  connection.sendDiagnostics({
    uri: analysis.document.uri,
    version: analysis.document.version,
    diagnostics: analysis.file.importsFal ? diagnosticsFor(analysis) : [],
  });
}

connection.onDidOpenTextDocument(({ textDocument: doc }) => publish(cache.open(doc.uri, doc.languageId, doc.version, doc.text)));
connection.onDidChangeTextDocument(({ textDocument: doc, contentChanges }) => publish(cache.change(doc.uri, doc.version, contentChanges)));
connection.onDidCloseTextDocument(({ textDocument: doc }) => {
  cache.close(doc.uri);
  connection.sendDiagnostics({ uri: doc.uri, diagnostics: [] });
});

connection.onCompletion(({ textDocument, position }) => {
  const analysis = falAnalysis(textDocument.uri);
  return analysis ? completionsAt(analysis, position) : [];
});
connection.onHover(({ textDocument, position }) => {
  const analysis = falAnalysis(textDocument.uri);
  return analysis ? hoverAt(analysis, position) ?? null : null;
});
connection.onCodeAction(({ textDocument, context }) => {
  const analysis = falAnalysis(textDocument.uri);
  return analysis ? codeActionsFor(analysis, context.diagnostics) : [];
});
connection.onCodeLens(({ textDocument }) => {
  const analysis = falAnalysis(textDocument.uri);
  return analysis ? codeLensesFor(analysis) : [];
});
connection.onRequest(DOCUMENT_APPS_REQUEST, ({ uri }: DocumentAppsParams): DocumentApp[] => {
  const analysis = falAnalysis(uri);
  return analysis ? documentApps(analysis) : [];
});
connection.languages.inlayHint.on(({ textDocument, range }) => {
  const analysis = falAnalysis(textDocument.uri);
  return analysis && settings.inlayHints ? inlayHintsFor(analysis, range) : [];
});

connection.listen();
