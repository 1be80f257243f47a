// The workspace both VS Code suites open: a copy of test/fixtures/workspace, plus an example and
// a fixture app used as they are elsewhere (copied in, so each lives in one place).
import { cpSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './codeServer.mjs';

const EXTRA_FILES = ['examples/text_to_image.py', 'test/fixtures/apps/two_apps.py'];

export function prepareWorkspace(workspace) {
  cpSync(path.join(repoRoot, 'test/fixtures/workspace'), workspace, { recursive: true });
  for (const file of EXTRA_FILES) cpSync(path.join(repoRoot, file), path.join(workspace, path.basename(file)));
}
