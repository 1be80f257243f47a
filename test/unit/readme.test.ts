import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { MACHINE_TYPES, PROBLEM_CODES } from '../../src/appconfig';

const readme = readFileSync(path.resolve(__dirname, '..', '..', 'README.md'), 'utf8');

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
});
