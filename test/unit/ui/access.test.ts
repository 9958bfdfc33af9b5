import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { isLoopbackHost, refusal, uiAccess } from '../../../src/ui/access.ts';

function incoming(method: string, headers: Record<string, string>): IncomingMessage {
  return { method, headers } as unknown as IncomingMessage;
}

const url = (path: string): URL => new URL(path, 'http://ui.invalid');

test('loopback names: 127.0.0.0/8, ::1, mapped 127.x and localhost; nothing else', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST']) assert.ok(isLoopbackHost(host), host);
  for (const host of ['0.0.0.0', '10.0.0.1', '::', 'example.com', '128.0.0.1', 'localhost.evil.example']) assert.ok(!isLoopbackHost(host), host);
});

test('a token is generated off loopback only, and a given one is kept', () => {
  assert.deepEqual(uiAccess('127.0.0.1', undefined), { access: { token: undefined, loopback: true }, generated: false });
  const generated = uiAccess('0.0.0.0', undefined);
  assert.ok(generated.generated);
  assert.match(generated.access.token ?? '', /^[\w-]{24}$/);
  assert.notEqual(uiAccess('0.0.0.0', undefined).access.token, generated.access.token, 'a fresh one each time');
  assert.deepEqual(uiAccess('0.0.0.0', 's3cret'), { access: { token: 's3cret', loopback: false }, generated: false });
  assert.equal(uiAccess('127.0.0.1', 's3cret').access.token, 's3cret', 'a token given on loopback is required too');
});

test('the token: header, bearer or query; a wrong or missing one is 401', () => {
  const access = { token: 'abc', loopback: false };
  const host = { host: '10.0.0.5:8089' };
  assert.equal(refusal(incoming('GET', host), url('/api/state'), access)?.status, 401);
  assert.equal(refusal(incoming('GET', { ...host, 'x-fleetsim-token': 'abd' }), url('/api/state'), access)?.status, 401);
  assert.equal(refusal(incoming('GET', { ...host, 'x-fleetsim-token': 'abc' }), url('/api/state'), access), undefined);
  assert.equal(refusal(incoming('GET', { ...host, authorization: 'Bearer abc' }), url('/api/state'), access), undefined);
  assert.equal(refusal(incoming('GET', host), url('/api/events?token=abc'), access), undefined);
});

test("state-changing requests: JSON only, from the UI's own origin", () => {
  const access = { token: undefined, loopback: true };
  const base = { host: '127.0.0.1:8089', 'content-type': 'application/json' };
  assert.equal(refusal(incoming('POST', base), url('/api/stop'), access), undefined, 'a script sends no Origin');
  assert.equal(refusal(incoming('POST', { ...base, origin: 'http://127.0.0.1:8089' }), url('/api/stop'), access), undefined, 'the page itself');
  assert.equal(refusal(incoming('POST', { ...base, 'content-type': 'application/json; charset=utf-8' }), url('/api/stop'), access), undefined);
  assert.equal(refusal(incoming('POST', { ...base, origin: 'http://evil.example' }), url('/api/stop'), access)?.status, 403);
  assert.equal(refusal(incoming('POST', { ...base, origin: 'null' }), url('/api/stop'), access)?.status, 403, 'a sandboxed frame');
  assert.equal(refusal(incoming('POST', { ...base, 'sec-fetch-site': 'cross-site' }), url('/api/stop'), access)?.status, 403);
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
    assert.equal(refusal(incoming('POST', { ...base, 'content-type': type }), url('/api/stop'), access)?.status, 415, type);
  }
  assert.equal(refusal(incoming('POST', { host: '127.0.0.1:8089' }), url('/api/stop'), access)?.status, 415, 'no content type');
  assert.equal(refusal(incoming('GET', { host: 'evil.example:8089' }), url('/'), access)?.status, 403, 'DNS rebinding on loopback');
  assert.equal(refusal(incoming('GET', { host: 'localhost:8089' }), url('/'), access), undefined);
  assert.equal(refusal(incoming('GET', { host: '[::1]:8089' }), url('/'), access), undefined);
});
