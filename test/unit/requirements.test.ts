/** PEP 508 requirement strings: what pip would install, what it would reject, and what is pinned. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isPinned, normaliseName, parseRequirement, type Requirement } from '../../src/appconfig';

function parsed(text: string): Requirement {
  const result = parseRequirement(text);
  assert.ok(result.ok, `${text}: ${result.ok ? '' : result.message}`);
  return result.requirement;
}

function rejection(text: string): string {
  const result = parseRequirement(text);
  assert.ok(!result.ok, `${text} was accepted as ${JSON.stringify(result.ok && result.requirement)}`);
  return result.message;
}

describe('parseRequirement accepts valid PEP 508 strings', () => {
  const cases: [string, Requirement][] = [
    ['numpy', { name: 'numpy', extras: [], specifiers: [] }],
    ['numpy==2.1.3', { name: 'numpy', extras: [], specifiers: [{ operator: '==', version: '2.1.3' }] }],
    ['  numpy == 2.1.3  ', { name: 'numpy', extras: [], specifiers: [{ operator: '==', version: '2.1.3' }] }],
    ['numpy>=1.26,<2', { name: 'numpy', extras: [], specifiers: [{ operator: '>=', version: '1.26' }, { operator: '<', version: '2' }] }],
    ['numpy (>=1.26, !=1.26.1)', { name: 'numpy', extras: [], specifiers: [{ operator: '>=', version: '1.26' }, { operator: '!=', version: '1.26.1' }] }],
    ['numpy==2.*', { name: 'numpy', extras: [], specifiers: [{ operator: '==', version: '2.*' }] }],
    ['numpy!=1.25.*', { name: 'numpy', extras: [], specifiers: [{ operator: '!=', version: '1.25.*' }] }],
    ['numpy~=1.26.4', { name: 'numpy', extras: [], specifiers: [{ operator: '~=', version: '1.26.4' }] }],
    ['diffusers~=0.30', { name: 'diffusers', extras: [], specifiers: [{ operator: '~=', version: '0.30' }] }],
    ['numpy===2.1.3-custom', { name: 'numpy', extras: [], specifiers: [{ operator: '===', version: '2.1.3-custom' }] }],
    ['torch==2.3.0+cu121', { name: 'torch', extras: [], specifiers: [{ operator: '==', version: '2.3.0+cu121' }] }],
    ['transformers==4.45.0rc1', { name: 'transformers', extras: [], specifiers: [{ operator: '==', version: '4.45.0rc1' }] }],
    ['black==24.1.0.post1', { name: 'black', extras: [], specifiers: [{ operator: '==', version: '24.1.0.post1' }] }],
    ['mypkg==1.0.dev3', { name: 'mypkg', extras: [], specifiers: [{ operator: '==', version: '1.0.dev3' }] }],
    ['requests[security,socks]>=2.31', {
      name: 'requests', extras: ['security', 'socks'], specifiers: [{ operator: '>=', version: '2.31' }],
    }],
    ['uvicorn[standard] == 0.30.6', { name: 'uvicorn', extras: ['standard'], specifiers: [{ operator: '==', version: '0.30.6' }] }],
    ['tomli>=2.0; python_version < "3.11"', {
      name: 'tomli', extras: [], specifiers: [{ operator: '>=', version: '2.0' }], marker: 'python_version < "3.11"',
    }],
    ['flash-attn @ https://github.com/Dao-AILab/flash-attention/releases/download/v2.6.3/flash_attn-2.6.3.whl', {
      name: 'flash-attn', extras: [], specifiers: [],
      url: 'https://github.com/Dao-AILab/flash-attention/releases/download/v2.6.3/flash_attn-2.6.3.whl',
    }],
    ['mylib[gpu] @ git+https://github.com/me/mylib.git@v1.2 ; sys_platform == "linux"', {
      name: 'mylib', extras: ['gpu'], specifiers: [], url: 'git+https://github.com/me/mylib.git@v1.2', marker: 'sys_platform == "linux"',
    }],
    ['Pillow==10.4.0', { name: 'pillow', extras: [], specifiers: [{ operator: '==', version: '10.4.0' }] }],
    ['typing_extensions', { name: 'typing-extensions', extras: [], specifiers: [] }],
  ];
  for (const [text, requirement] of cases) {
    it(text, () => assert.deepEqual(parsed(text), requirement));
  }
});

describe('parseRequirement rejects what pip would not install, saying why', () => {
  const cases: [string, RegExp][] = [
    ['numpy=1.0', /invalid version specifier "=1\.0" \(use "==" for an exact version\)/],
    ['torch>=', /invalid version "" after ">="/],
    ['torch>=2.0,', /invalid version specifier ""/],
    ['numpy>=1.0 <2.0', /invalid version "1\.0 <2\.0" after ">="/],
    ['numpy>=1.*', /invalid version "1\.\*" after ">="/],
    ['numpy==latest', /invalid version "latest" after "=="/],
    ['numpy~=1', /"~=1", which needs at least two version parts/],
    ['-e .', /pip option or a bare path\/URL/],
    ['--index-url https://download.pytorch.org/whl/cu121', /pip option/],
    ['git+https://github.com/huggingface/diffusers.git', /write "name @ URL" for a direct reference/],
    ['https://example.com/pkg.whl', /bare path\/URL/],
    ['./wheels/mypkg.whl', /bare path\/URL/],
    ['requests[security', /unclosed "\[" in its extras/],
    ['requests[sec urity]', /invalid extra "sec urity"/],
    ['mypkg @ ./local/path', /"@" without a valid URL/],
    ['numpy; ', /empty environment marker/],
    ['', /is empty/],
    ['   ', /is empty/],
    ['numpy  # the maths', /invalid version specifier "# the maths"/],
    ['_private', /does not start with a package name/],
  ];
  for (const [text, message] of cases) {
    it(JSON.stringify(text), () => assert.match(rejection(text), message));
  }
});

describe('isPinned', () => {
  it('is true for one exact version or a direct URL: the same environment every build', () => {
    for (const text of ['numpy==2.1.3', 'numpy===2.1.3', 'numpy>=2,==2.1.3', 'pkg @ https://example.com/pkg-1.0.whl']) {
      assert.equal(isPinned(parsed(text)), true, text);
    }
  });

  it('is false for bare names, ranges, wildcards, exclusions and compatible releases', () => {
    for (const text of ['numpy', 'numpy>=2', 'numpy>=2,<3', 'numpy==2.*', 'numpy!=2.1.3', 'numpy~=2.1']) {
      assert.equal(isPinned(parsed(text)), false, text);
    }
  });
});

describe('normaliseName', () => {
  it('lower-cases and folds runs of "-", "_" and "." into one "-" (PEP 503)', () => {
    assert.equal(normaliseName('Pillow'), 'pillow');
    assert.equal(normaliseName('typing_extensions'), 'typing-extensions');
    assert.equal(normaliseName('zope.interface'), 'zope-interface');
    assert.equal(normaliseName('My__Odd-._Name'), 'my-odd-name');
  });

  it('makes spellings of one package compare equal', () => {
    assert.equal(parsed('Typing_Extensions==4.12.2').name, parsed('typing-extensions').name);
    assert.equal(parsed('PILLOW').name, parsed('pillow>=10').name);
  });
});
