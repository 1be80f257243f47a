/**
 * Everything the extension and its language server say to each other beyond standard LSP,
 * declared once and imported by both sides.
 */

/** The server's settings, sent as initializationOptions and again whenever they change. */
export interface ServerSettings {
  /** Show prices after machine_type and durations after keep_alive. */
  inlayHints: boolean;
}

export const DEFAULT_SERVER_SETTINGS: ServerSettings = { inlayHints: true };

/** Notification, client -> server: the settings changed. */
export const SETTINGS_NOTIFICATION = 'kiln/settings';

/** What a CodeLens passes to the client's commands: which app (and endpoint) of which file. */
export interface AppTarget {
  uri: string;
  className: string;
  /** The app's name (the `name=` keyword or the class name in kebab-case). */
  appName: string;
}

export interface EndpointTarget extends AppTarget {
  path: string;
  /** The endpoint's parameters, so the client can ask for each input. */
  parameters: { name: string; annotation: string | null; hasDefault: boolean }[];
}

/** An App in an open document, with its endpoints: what the editor's commands act on. */
export interface DocumentApp extends AppTarget {
  endpoints: EndpointTarget[];
}

/** Request, client -> server: the Apps in an open document (none when it does not import fal). */
export const DOCUMENT_APPS_REQUEST = 'kiln/documentApps';
export interface DocumentAppsParams {
  uri: string;
}

/** Commands the server's CodeLenses invoke; the client registers them. */
export const COMMANDS = {
  deploy: 'kiln.deploy',
  invoke: 'kiln.invoke',
} as const;
