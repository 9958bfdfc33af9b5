import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ResponseParseError, ResponseParser } from '../../../src/transport/http/h1-parser.ts';

interface Parsed {
  status: number;
  body: string;
  keepAlive: boolean;
  hintMs: number;
  /** Bytes left after the response ended (the start of whatever followed it). */
  rest: string;
}

/** Feeds `pieces` to a parser as separate reads and collects what it reported. */
function parse(pieces: readonly Buffer[], head = false): Parsed & { done: boolean } {
  let status = 0;
  const body: Buffer[] = [];
  const parser = new ResponseParser({
    onHead: (code) => (status = code),
    onBody: (chunk) => {
      body.push(Buffer.from(chunk));
      return true;
    },
  });
  parser.expect(head);
  let rest = '';
  for (const piece of pieces) {
    if (parser.done) {
      rest += piece.toString('latin1');
      continue;
    }
    const at = parser.execute(piece, 0);
    if (parser.done) rest += piece.toString('latin1', at);
  }
  return { status, body: Buffer.concat(body).toString('latin1'), keepAlive: parser.keepAlive, hintMs: parser.keepAliveHintMs, rest, done: parser.done };
}

/** `text` cut at the given offsets. */
function split(text: string, cuts: readonly number[]): Buffer[] {
  const bytes = Buffer.from(text, 'latin1');
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let from = 0;
  for (const point of points) {
    pieces.push(bytes.subarray(from, point));
    from = point;
  }
  pieces.push(bytes.subarray(from));
  return pieces.filter((piece) => piece.length > 0);
}

const RESPONSES: readonly { name: string; text: string; head?: boolean; expect: Parsed }[] = [
  { name: 'content-length', text: 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello', expect: { status: 200, body: 'hello', keepAlive: true, hintMs: -1, rest: '' } },
  {
    name: 'chunked with extensions and trailers',
    text: 'HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n, world!!!\r\n0\r\nX-Checksum: 1\r\n\r\n',
    expect: { status: 201, body: 'hello, world!!!', keepAlive: true, hintMs: -1, rest: '' },
  },
  {
    name: '1xx answers before the final one',
    text: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok',
    expect: { status: 200, body: 'ok', keepAlive: true, hintMs: -1, rest: '' },
  },
  { name: 'HEAD ignores the length', head: true, text: 'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n', expect: { status: 200, body: '', keepAlive: true, hintMs: -1, rest: '' } },
  { name: '204', text: 'HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n', expect: { status: 204, body: '', keepAlive: true, hintMs: -1, rest: '' } },
  { name: '304', text: 'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n', expect: { status: 304, body: '', keepAlive: true, hintMs: -1, rest: '' } },
  { name: 'Connection: close', text: 'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok', expect: { status: 200, body: 'ok', keepAlive: false, hintMs: -1, rest: '' } },
  {
    name: 'keep-alive hint',
    text: 'HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5, max=100\r\nContent-Length: 0\r\n\r\n',
    expect: { status: 200, body: '', keepAlive: true, hintMs: 5000, rest: '' },
  },
  { name: 'HTTP/1.0 without keep-alive', text: 'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok', expect: { status: 200, body: 'ok', keepAlive: false, hintMs: -1, rest: '' } },
  {
    name: 'bytes after the response are left over',
    text: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1',
    expect: { status: 200, body: 'ok', keepAlive: true, hintMs: -1, rest: 'HTTP/1.1' },
  },
];

for (const { name, text, head, expect } of RESPONSES) {
  test(`parses ${name}, however the reads split it`, () => {
    const whole = parse([Buffer.from(text, 'latin1')], head);
    assert.ok(whole.done, 'the response ended');
    assert.deepEqual({ ...whole, done: undefined }, { ...expect, done: undefined });
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 12 }), (cuts) => {
        const pieces = parse(split(text, cuts), head);
        assert.deepEqual(pieces, whole);
      }),
      { numRuns: 300 },
    );
  });
}

test('every single-byte read of a chunked response gives the same body', () => {
  const text = RESPONSES[1]?.text ?? '';
  const bytes = [...Buffer.from(text, 'latin1')].map((byte) => Buffer.from([byte]));
  assert.equal(parse(bytes).body, 'hello, world!!!');
});

test('a body without length or chunking runs until the connection closes', () => {
  const parser = new ResponseParser({ onHead: () => undefined, onBody: () => true });
  parser.expect(false);
  parser.execute(Buffer.from('HTTP/1.1 200 OK\r\n\r\nsome'), 0);
  assert.equal(parser.done, false);
  assert.equal(parser.endsAtClose, true);
  assert.equal(parser.keepAlive, false);
  parser.finishAtClose();
  assert.equal(parser.done, true);
});

test('a body callback that asks to pause stops the parse where it stood', () => {
  const seen: string[] = [];
  const parser = new ResponseParser({
    onHead: () => undefined,
    onBody: (chunk) => {
      seen.push(chunk.toString());
      return false;
    },
  });
  parser.expect(false);
  const data = Buffer.from('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n');
  const at = parser.execute(data, 0);
  assert.deepEqual(seen, ['abc']);
  assert.equal(parser.done, false);
  parser.execute(data, at);
  assert.deepEqual(seen, ['abc', 'def']);
});

test("broken responses fail with llhttp's codes", () => {
  const codeOf = (text: string): string => {
    const parser = new ResponseParser({ onHead: () => undefined, onBody: () => true });
    parser.expect(false);
    try {
      parser.execute(Buffer.from(text, 'latin1'), 0);
    } catch (error) {
      assert.ok(error instanceof ResponseParseError);
      return error.code;
    }
    return 'none';
  };
  assert.equal(codeOf('SMTP ready\r\n\r\n'), 'HPE_INVALID_CONSTANT');
  assert.equal(codeOf('HTTP/1.1 2x0 OK\r\n\r\n'), 'HPE_INVALID_STATUS');
  assert.equal(codeOf('HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n'), 'HPE_INVALID_CONTENT_LENGTH');
  assert.equal(codeOf('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n'), 'HPE_INVALID_CONTENT_LENGTH');
  assert.equal(codeOf('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'), 'HPE_INVALID_CHUNK_SIZE');
  assert.equal(codeOf(`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(70_000)}`), 'HPE_HEADER_OVERFLOW');
});
