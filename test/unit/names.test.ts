/** App names, the did-you-mean matcher, and the name patterns for env variables and volumes. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  APP_NAME_PATTERN, ATTRIBUTE_OPTIONS, defaultAppName, didYouMean, ENV_NAME_PATTERN, KEYWORD_OPTIONS, machineTypeNames,
  RESERVED_APP_NAMES, VOLUME_NAME_PATTERN,
} from '../../src/appconfig';

describe('defaultAppName', () => {
  const cases: [string, string][] = [
    ['TextToImage', 'text-to-image'],
    ['MyModel', 'my-model'],
    ['Gpt2App', 'gpt2-app'],
    ['HTTPServer', 'http-server'],
    ['SDXLTurbo', 'sdxl-turbo'],
    ['Whisper', 'whisper'],
    ['my_app', 'my-app'],
    ['My_App', 'my-app'],
  ];
  for (const [className, name] of cases) {
    it(`${className} -> ${name}`, () => assert.equal(defaultAppName(className), name));
  }

  it('gives names that fit the app name pattern for ordinary class names', () => {
    for (const [className] of cases) assert.match(defaultAppName(className), APP_NAME_PATTERN, className);
  });
});

describe('APP_NAME_PATTERN', () => {
  it('accepts lower-case letters, digits and inner dashes, 1 to 63 characters', () => {
    for (const name of ['a', '7', 'text-to-image', 'sdxl-turbo-v2', 'a'.repeat(63), 'a--b']) {
      assert.match(name, APP_NAME_PATTERN, name);
    }
  });

  it('rejects what cannot be a URL path segment or CLI argument', () => {
    for (const name of ['', '-app', 'app-', 'App', 'my app', 'my_app', 'my.app', 'app/v2', 'a'.repeat(64), 'é']) {
      assert.doesNotMatch(name, APP_NAME_PATTERN, name);
    }
  });
});

describe('RESERVED_APP_NAMES', () => {
  it('are the first path segments of the runtime\'s own API, and valid names otherwise', () => {
    assert.deepEqual([...RESERVED_APP_NAMES].sort(), ['files', 'health', 'metrics', 'queue', 'v1']);
    for (const name of RESERVED_APP_NAMES) assert.match(name, APP_NAME_PATTERN);
  });
});

describe('didYouMean', () => {
  it('suggests the option a keyword misspells', () => {
    assert.equal(didYouMean('keepalive', KEYWORD_OPTIONS), 'keep_alive');
    assert.equal(didYouMean('max_concurency', KEYWORD_OPTIONS), 'max_concurrency');
    assert.equal(didYouMean('secret', ATTRIBUTE_OPTIONS), 'secrets');
  });

  it('compares case-insensitively and answers with the candidate\'s spelling', () => {
    assert.equal(didYouMean('gpu-a100', machineTypeNames()), 'GPU-A100');
    assert.equal(didYouMean('KEEP_ALIVE', KEYWORD_OPTIONS), 'keep_alive');
  });

  it('allows an edit distance of a third of the word, rounded down', () => {
    assert.equal(didYouMean('kep_alve', ['keep_alive']), 'keep_alive'); // 8 letters, 2 edits, 2 allowed
    assert.equal(didYouMean('kp_alv', ['keep_alive']), undefined); // 6 letters, 4 edits, 2 allowed
    assert.equal(didYouMean('abcdefghi', ['abcdefxyz']), 'abcdefxyz'); // 9 letters, 3 edits
    assert.equal(didYouMean('abcdefghi', ['abcdewxyz']), undefined); // 9 letters, 4 edits
  });

  it('allows at least one edit, even for short words', () => {
    assert.equal(didYouMean('enb', ['env']), 'env');
    assert.equal(didYouMean('en', ['env']), 'env');
    assert.equal(didYouMean('ebx', ['env']), undefined);
  });

  it('answers nothing when no candidate is close, or there are none', () => {
    assert.equal(didYouMean('flavour', KEYWORD_OPTIONS), undefined);
    assert.equal(didYouMean('TPU-v5e', machineTypeNames()), undefined);
    assert.equal(didYouMean('keep_alive', []), undefined);
  });

  it('takes the closest candidate, the first on a tie', () => {
    assert.equal(didYouMean('GPU-H10', machineTypeNames()), 'GPU-H100');
    assert.equal(didYouMean('abc', ['abd', 'abe']), 'abd');
  });
});

describe('ENV_NAME_PATTERN and VOLUME_NAME_PATTERN', () => {
  it('accept POSIX environment variable names only', () => {
    for (const name of ['HF_TOKEN', '_PRIVATE', 'a1']) assert.match(name, ENV_NAME_PATTERN, name);
    for (const name of ['1ST', 'HF-TOKEN', 'HF TOKEN', '', 'ÄPFEL']) assert.doesNotMatch(name, ENV_NAME_PATTERN, name);
  });

  it('accept volume names of letters, digits, ".", "_" and "-", up to 63, starting with a letter or digit', () => {
    for (const name of ['model-cache', 'user_data.v2', '7b', 'a'.repeat(63)]) assert.match(name, VOLUME_NAME_PATTERN, name);
    for (const name of ['', '-cache', '.hidden', 'model cache', 'a/b', 'a'.repeat(64)]) assert.doesNotMatch(name, VOLUME_NAME_PATTERN, name);
  });
});
