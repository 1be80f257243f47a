/**
 * Every feature room of the extension, each registering its commands, views and listeners on the
 * context. A new feature is a file with a `register…(ctx)` function and one line here (and its
 * contributions in package.json).
 */
import { registerAppCommands } from './appCommands';
import { registerAppsView } from './appsView';
import type { KilnContext } from './ctx';
import { registerDashboard } from './dashboard';
import { registerDeploy } from './deploy';
import { registerDevMode } from './devMode';
import { registerExport } from './exportCommand';
import { registerInvoke } from './invoke';
import { registerLogs } from './logTail';
import { registerNewApp } from './newApp';
import { registerRuntimeCommands } from './runtimeCommands';
import { registerStatus } from './status';
import { registerTester } from './tester';

export const FEATURES: ((ctx: KilnContext) => void)[] = [
  registerRuntimeCommands,
  registerStatus,
  registerAppsView,
  registerDeploy,
  registerLogs,
  registerTester,
  registerInvoke,
  registerDevMode,
  registerAppCommands,
  registerDashboard,
  registerNewApp,
  registerExport,
];
