import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { MACHINE_TYPES, PROBLEM_CODES } from '../../src/appconfig';

const root = path.resolve(__dirname, '..', '..');
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  contributes: { commands: { title: string }[]; configuration: { properties: Record<string, unknown> } };
};

describe('the README', () => {
  it('documents every problem code a user can meet, and no other', () => {
    const section = readme.slice(readme.indexOf('### Problem codes'), readme.indexOf('\n## ', readme.indexOf('### Problem codes')));
    const documented = [...section.matchAll(/^\| `([a-z-]+)` \|/gm)].map((match) => match[1]);
    assert.deepEqual(documented, Object.keys(PROBLEM_CODES));
  });

  it('lists every machine type with the catalog\'s price', () => {
    for (const type of MACHINE_TYPES.filter((candidate) => candidate.kind === 'gpu')) {
      assert.match(readme, new RegExp(`\\| ${type.name} \\|[^|]*\\| ${type.pricePerSecond} \\|`), type.name);
    }
    assert.match(readme, new RegExp(MACHINE_TYPES.filter((type) => type.kind === 'cpu').map((type) => type.name).join(', ')));
  });

  it('names every command and documents every setting the extension contributes', () => {
    const commands = readme.slice(readme.indexOf('### Commands'), readme.indexOf('\n## ', readme.indexOf('### Commands'))).replace(/\s+/g, ' ');
    for (const { title } of manifest.contributes.commands) assert.ok(commands.includes(title), `the Commands section does not name "${title}"`);
    const settings = readme.slice(readme.indexOf('### Settings'), readme.indexOf('### Commands'));
    for (const key of Object.keys(manifest.contributes.configuration.properties)) {
      assert.match(settings, new RegExp(`^\\| \`${key.replace(/\./g, '\\.')}\` \\|`, 'm'), `the Settings table has no row for ${key}`);
    }
  });
});
