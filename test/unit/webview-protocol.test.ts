/**
 * What the extension takes from its webviews' pages: each message the tester and the dashboard
 * send, checked on arrival, and anything else dropped.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDashboardMessage, parseTesterMessage } from '../../src/shared/webviewProtocol';

describe('messages from the tester\'s page', () => {
  it('takes each message the page sends', () => {
    assert.deepEqual(parseTesterMessage({ type: 'ready' }), { type: 'ready' });
    assert.deepEqual(parseTesterMessage({ type: 'cancel' }), { type: 'cancel' });
    assert.deepEqual(parseTesterMessage({ type: 'send', input: { name: 'Ada', tags: ['a'] }, mode: 'queue' }),
      { type: 'send', input: { name: 'Ada', tags: ['a'] }, mode: 'queue' });
    assert.deepEqual(parseTesterMessage({ type: 'copy', as: 'fal-client', input: {} }), { type: 'copy', as: 'fal-client', input: {} });
    assert.deepEqual(parseTesterMessage({ type: 'switchEndpoint', app: 'text-to-image', path: '/generate' }),
      { type: 'switchEndpoint', app: 'text-to-image', path: '/generate' });
  });

  it('keeps only the fields it knows', () => {
    assert.deepEqual(parseTesterMessage({ type: 'ready', extra: 'ignored' }), { type: 'ready' });
    assert.deepEqual(parseTesterMessage({ type: 'send', input: {}, mode: 'sync', url: 'http://elsewhere' }), { type: 'send', input: {}, mode: 'sync' });
  });

  it('drops anything else', () => {
    for (const raw of [
      undefined, null, 'ready', 42, [], {}, { type: 'delete' },
      { type: 'send', input: {}, mode: 'stream' },
      { type: 'send', input: [1, 2], mode: 'sync' },
      { type: 'send', input: null, mode: 'sync' },
      { type: 'send', input: 'name=Ada', mode: 'sync' },
      { type: 'send', mode: 'sync' },
      { type: 'copy', as: 'python', input: {} },
      { type: 'copy', as: 'curl', input: new Date() },
      { type: 'switchEndpoint', app: '../v1/secrets', path: '/' },
      { type: 'switchEndpoint', app: 'Hello', path: '/' },
      { type: 'switchEndpoint', app: 'hello', path: 'greet' },
      { type: 'switchEndpoint', app: 'hello', path: 7 },
      { type: 'switchEndpoint', path: '/' },
    ]) {
      assert.equal(parseTesterMessage(raw), undefined, JSON.stringify(raw));
    }
  });
});

describe('messages from the dashboard\'s page', () => {
  it('takes ready and each range the page offers', () => {
    assert.deepEqual(parseDashboardMessage({ type: 'ready' }), { type: 'ready' });
    for (const hours of [1, 6, 24, 168]) assert.deepEqual(parseDashboardMessage({ type: 'range', hours }), { type: 'range', hours });
  });

  it('drops any other range, and anything else', () => {
    for (const raw of [
      null, {}, { type: 'range' }, { type: 'range', hours: 2 }, { type: 'range', hours: '1' }, { type: 'range', hours: '1h; rm -rf' },
      { type: 'range', hours: 1e9 }, { type: 'range', hours: -1 }, { type: 'refresh' },
    ]) {
      assert.equal(parseDashboardMessage(raw), undefined, JSON.stringify(raw));
    }
  });
});
