// The extension starts its runtime detached, so that it outlives VS Code; a test run that gave the
// extension a KILN_HOME of its own stops that runtime with this when it is done.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Stops the runtime whose runtime.json is in `kilnHome`, if any, and waits for it to exit. */
export async function stopRuntime(kilnHome) {
  const infoFile = path.join(kilnHome, 'runtime.json');
  if (!existsSync(infoFile)) return;
  const { pid } = JSON.parse(readFileSync(infoFile, 'utf8'));
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(pid, 'SIGTERM');
  for (let waited = 0; alive() && waited < 10_000; waited += 100) await new Promise((resolve) => setTimeout(resolve, 100));
  if (alive()) process.kill(pid, 'SIGKILL');
}
