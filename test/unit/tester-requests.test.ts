/**
 * What the tester's host does with requests apart from its page: finding the pictures in a
 * response, fetching them as data: URIs from a real HTTP server, and writing the request as curl
 * and as @fal-ai/client code.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { curlSnippet, falClientSnippet, fetchImages, findImageRefs } from '../../src/extension/testerRequests';

const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');

describe('pictures in a response', () => {
  let server: Server;
  let base: string;
  const asked: string[] = [];
  before(async () => {
    server = createServer((request, response) => {
      asked.push(request.url!);
      if (request.url === '/files/app/picture.png') {
        response.writeHead(200, { 'content-type': 'image/png' }).end(PNG);
      } else {
        response.writeHead(404, { 'content-type': 'application/json' }).end('{"detail": "No such file."}');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('finds image URLs, data: URIs and fal Image objects, with where they are in the body', () => {
    const body = {
      image_url: 'http://127.0.0.1:8411/files/app/a.png',
      images: [{ url: 'https://cdn.example/render', content_type: 'image/webp', width: 8 }],
      thumb: 'data:image/png;base64,AAAA',
      'odd/key': 'https://example.com/x.JPG?size=2',
      text: 'https://example.com/page.html',
      count: 3,
    };
    assert.deepEqual(findImageRefs(body), [
      { pointer: '/image_url', ref: 'http://127.0.0.1:8411/files/app/a.png' },
      { pointer: '/images/0/url', ref: 'https://cdn.example/render' },
      { pointer: '/thumb', ref: 'data:image/png;base64,AAAA' },
      { pointer: '/odd~1key', ref: 'https://example.com/x.JPG?size=2' },
    ]);
  });

  it('fetches the runtime\'s files as data: URIs, leaving out what is not an image', async () => {
    const images = await fetchImages({ image_url: `${base}/files/app/picture.png`, missing: `${base}/files/app/gone.png` }, base);
    assert.deepEqual(images, [{ pointer: '/image_url', dataUri: `data:image/png;base64,${PNG.toString('base64')}` }]);
  });

  it('never fetches what is not one of the runtime\'s files: a response cannot make the editor call other addresses', async () => {
    asked.length = 0;
    const elsewhere = `http://localhost:${new URL(base).port}/files/app/picture.png`;
    const images = await fetchImages({ other_host: elsewhere, not_files: `${base}/admin/picture.png`, escaping: `${base}/files/../admin/picture.png`, inline: 'data:image/png;base64,AAAA' }, base);
    assert.deepEqual(images, [{ pointer: '/inline', dataUri: 'data:image/png;base64,AAAA' }]);
    assert.deepEqual(asked, []);
  });
});

describe('the request as code', () => {
  it('writes curl with the token from the environment, quoting the body for the shell', () => {
    assert.equal(curlSnippet('http://127.0.0.1:8411', 'hello', '/greet', { name: "O'Brien" }, 'sync'), [
      "curl -X POST 'http://127.0.0.1:8411/hello/greet' \\",
      '  -H "Authorization: Bearer $KILN_TOKEN" \\',
      "  -H 'Content-Type: application/json' \\",
      `  -d '{"name":"O'\\''Brien"}'`,
    ].join('\n'));
    assert.match(curlSnippet('http://h:1', 'hello', '/', {}, 'queue'), /^curl -X POST 'http:\/\/h:1\/queue\/hello' /);
  });

  it('writes @fal-ai/client code through the runtime\'s proxy: run for sync, subscribe for the queue', () => {
    const sync = falClientSnippet('http://127.0.0.1:8411', 'hello', '/greet', { name: 'Ada' }, 'sync');
    assert.match(sync, /proxyUrl: \{ url: "http:\/\/127\.0\.0\.1:8411\/v1\/fal-proxy", when: "always" \}/);
    assert.match(sync, /await fal\.run\("kiln\/hello\/greet", \{\n {2}input: \{\n {4}"name": "Ada"\n {2}\},\n\}\);/);
    assert.ok(!sync.includes('subscribe'));
    assert.match(falClientSnippet('http://h:1', 'hello', '/', {}, 'queue'), /await fal\.subscribe\("kiln\/hello", \{/);
  });
});
