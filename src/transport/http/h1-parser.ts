/** What the parser tells its connection about one response. */
export interface ResponseEvents {
  /** The final (non-1xx) status line and headers arrived. */
  onHead(status: number): void;
  /** Body bytes (chunked framing removed); returns false to stop parsing after them (a pause). */
  onBody(chunk: Buffer): boolean;
}

/** A response that breaks HTTP/1.1; its code is llhttp's for the same fault, so both clients label it alike. */
export class ResponseParseError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ResponseParseError';
  }
}

const enum State {
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailers,
  UntilClose,
  Done,
}

const CR = 13;
const LF = 10;
const HEAD_END = Buffer.from('\r\n\r\n');
/** "HTTP/1." as bytes: the status line's start, compared without making a string. */
const VERSION_PREFIX = Buffer.from('HTTP/1.');
/** The most header bytes a response may carry (llhttp's default in Node is 16 KB; undici allows more). */
const MAX_HEAD_BYTES = 64 * 1024;
const MAX_CHUNK_LINE = 1024;

/** The decimal number between optional spaces in `buffer[start, end)`, or -1 if there is none. */
function decimal(buffer: Buffer, start: number, end: number): number {
  let at = start;
  while (at < end && (buffer[at] === 0x20 || buffer[at] === 0x09)) at++;
  let stop = end;
  while (stop > at && (buffer[stop - 1] === 0x20 || buffer[stop - 1] === 0x09)) stop--;
  if (at === stop || stop - at > 15) return -1;
  let value = 0;
  for (; at < stop; at++) {
    const digit = (buffer[at] ?? 0) - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

function lowerAscii(buffer: Buffer, start: number, end: number): string {
  return buffer.toString('latin1', start, end).toLowerCase();
}

/**
 * An HTTP/1.1 response parser for one socket, reused for every response on it: status line,
 * headers (only the framing ones are read: content-length, transfer-encoding, connection,
 * keep-alive), 1xx answers skipped, no body for HEAD, 204 and 304, content-length and chunked
 * bodies, and a body that runs until the server closes. Body bytes are handed over as slices of
 * the socket's own buffers, never copied.
 */
export class ResponseParser {
  private state = State.Done;
  private noBody = false;
  private remaining = 0;
  /** Head bytes of a head split over several socket reads. */
  private partial: Buffer | undefined;
  private chunkLine = '';
  /** After the response: whether its connection may carry the next. */
  keepAlive = true;
  /** The server's `Keep-Alive: timeout=` in ms, or -1 when it sent none. */
  keepAliveHintMs = -1;
  status = 0;

  constructor(private readonly events: ResponseEvents) {}

  /** A new request was written: `head` says it was a HEAD request (no body, whatever the headers say). */
  expect(head: boolean): void {
    this.state = State.Head;
    this.noBody = head;
    this.partial = undefined;
    this.keepAlive = true;
    this.keepAliveHintMs = -1;
    this.status = 0;
  }

  get done(): boolean {
    return this.state === State.Done;
  }

  /** Mid-response, a server closing the connection ends a body that runs until close; any other body is cut short. */
  get endsAtClose(): boolean {
    return this.state === State.UntilClose;
  }

  /** The server closed the connection: a body that runs until close is complete. */
  finishAtClose(): void {
    if (this.state === State.UntilClose) this.state = State.Done;
  }

  /**
   * Parses `data` from `offset`. Returns where it stopped: `data.length` when all was taken, or an
   * earlier offset when the response ended (`done`) or a body callback asked to pause. Throws
   * ResponseParseError on a response that breaks the protocol.
   */
  execute(data: Buffer, offset: number): number {
    let at = offset;
    const end = data.length;
    while (at < end) {
      switch (this.state) {
        case State.Head: {
          at = this.head(data, at);
          break;
        }
        case State.Length: {
          const take = Math.min(this.remaining, end - at);
          this.remaining -= take;
          const from = at;
          at += take;
          if (this.remaining === 0) this.state = State.Done;
          const more = this.events.onBody(data.subarray(from, at));
          if (!more || this.state === State.Done) return at;
          break;
        }
        case State.ChunkSize: {
          at = this.chunkSize(data, at);
          if ((this.state as State) === State.Done) return at;
          break;
        }
        case State.ChunkData: {
          const take = Math.min(this.remaining, end - at);
          this.remaining -= take;
          const from = at;
          at += take;
          if (this.remaining === 0) this.state = State.ChunkDataEnd;
          if (!this.events.onBody(data.subarray(from, at))) return at;
          break;
        }
        case State.ChunkDataEnd: {
          // The CRLF after a chunk's data, perhaps split across reads.
          const byte = data[at++];
          if (byte === LF) this.state = State.ChunkSize;
          else if (byte !== CR) throw new ResponseParseError('HPE_STRICT', 'Expected LF after chunk data');
          break;
        }
        case State.Trailers: {
          at = this.trailers(data, at);
          if ((this.state as State) === State.Done) return at;
          break;
        }
        case State.UntilClose: {
          const from = at;
          at = end;
          if (!this.events.onBody(data.subarray(from, end))) return at;
          break;
        }
        case State.Done:
          return at;
      }
    }
    return at;
  }

  private head(data: Buffer, at: number): number {
    let buffer = data;
    let start = at;
    let found = data.indexOf(HEAD_END, at);
    if (this.partial) {
      // Join what came before with this read; the terminator may straddle the two.
      const joined = Buffer.concat([this.partial, data.subarray(at)]);
      const resumeFrom = Math.max(0, this.partial.length - 3);
      const inJoined = joined.indexOf(HEAD_END, resumeFrom);
      if (inJoined < 0) {
        this.keepPartial(joined);
        return data.length;
      }
      const consumedOfData = inJoined + 4 - this.partial.length;
      this.partial = undefined;
      buffer = joined;
      start = 0;
      found = inJoined;
      this.parseHead(buffer, start, found);
      return at + consumedOfData;
    }
    if (found < 0) {
      this.keepPartial(data.subarray(at));
      return data.length;
    }
    this.parseHead(buffer, start, found);
    return found + 4;
  }

  private keepPartial(bytes: Buffer): void {
    if (bytes.length > MAX_HEAD_BYTES) throw new ResponseParseError('HPE_HEADER_OVERFLOW', 'Header overflow');
    // A copy: the socket's buffer is not ours to hold on to.
    this.partial = Buffer.from(bytes);
  }

  /** The head from `start` to `end` (the blank line's CRLFCRLF at `end`). */
  private parseHead(buffer: Buffer, start: number, end: number): void {
    // "HTTP/1.1 200 OK": the version and a three-digit status.
    if (end - start < 12 || buffer.compare(VERSION_PREFIX, 0, 7, start, start + 7) !== 0 || buffer[start + 8] !== 0x20) {
      throw new ResponseParseError('HPE_INVALID_CONSTANT', 'Expected HTTP/');
    }
    const minor = (buffer[start + 7] ?? 0) - 48;
    const d0 = (buffer[start + 9] ?? 0) - 48;
    const d1 = (buffer[start + 10] ?? 0) - 48;
    const d2 = (buffer[start + 11] ?? 0) - 48;
    if (d0 < 1 || d0 > 9 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9 || (minor !== 0 && minor !== 1)) throw new ResponseParseError('HPE_INVALID_STATUS', 'Invalid response status');
    const status = d0 * 100 + d1 * 10 + d2;
    let contentLength = -1;
    let chunked = false;
    let connection = '';
    let hint = -1;
    let line = buffer.indexOf(LF, start) + 1;
    const stop = end + 2;
    while (line > 0 && line < stop) {
      let lineEnd = buffer.indexOf(LF, line);
      if (lineEnd < 0 || lineEnd > stop) lineEnd = stop;
      const colon = buffer.indexOf(0x3a, line);
      if (colon > line && colon < lineEnd) {
        const nameLength = colon - line;
        // Only the framing headers matter; the name's length rules out the rest before any string is made.
        if (nameLength === 14 || nameLength === 17 || nameLength === 10) {
          const name = lowerAscii(buffer, line, colon);
          const valueEnd = buffer[lineEnd - 1] === CR ? lineEnd - 1 : lineEnd;
          if (name === 'content-length') {
            const length = decimal(buffer, colon + 1, valueEnd);
            if (length < 0 || (contentLength >= 0 && length !== contentLength)) throw new ResponseParseError('HPE_INVALID_CONTENT_LENGTH', 'Invalid character in Content-Length');
            contentLength = length;
            line = lineEnd + 1;
            continue;
          }
          const value = buffer.toString('latin1', colon + 1, valueEnd).trim();
          if (name === 'transfer-encoding') {
            chunked = value.toLowerCase().endsWith('chunked');
          } else if (name === 'connection') {
            connection = value.toLowerCase();
          } else if (name === 'keep-alive') {
            const match = /timeout=(\d+)/i.exec(value);
            if (match) hint = Number(match[1]) * 1000;
          }
        }
      } else if (lineEnd - line > 2) {
        throw new ResponseParseError('HPE_INVALID_HEADER_TOKEN', 'Invalid header token');
      }
      line = lineEnd + 1;
    }
    if (status < 200) {
      // 100 Continue, 102, 103 Early Hints: informational, the real answer follows. 101 needs an upgrade nobody asked for.
      if (status === 101) throw new ResponseParseError('HPE_UNEXPECTED_UPGRADE', 'Unexpected upgrade');
      this.state = State.Head;
      return;
    }
    this.status = status;
    this.keepAlive = minor === 1 ? !connection.includes('close') : connection.includes('keep-alive');
    this.keepAliveHintMs = hint;
    this.events.onHead(status);
    if (this.noBody || status === 204 || status === 304) this.state = State.Done;
    else if (chunked) {
      this.state = State.ChunkSize;
      this.chunkLine = '';
    } else if (contentLength >= 0) {
      this.remaining = contentLength;
      this.state = contentLength === 0 ? State.Done : State.Length;
    } else {
      this.state = State.UntilClose;
      this.keepAlive = false;
    }
  }

  private chunkSize(data: Buffer, at: number): number {
    const lineEnd = data.indexOf(LF, at);
    if (lineEnd < 0) {
      this.chunkLine += data.toString('latin1', at, data.length);
      if (this.chunkLine.length > MAX_CHUNK_LINE) throw new ResponseParseError('HPE_INVALID_CHUNK_SIZE', 'Chunk size line too long');
      return data.length;
    }
    const line = this.chunkLine + data.toString('latin1', at, lineEnd);
    this.chunkLine = '';
    const semicolon = line.indexOf(';');
    const hex = (semicolon >= 0 ? line.slice(0, semicolon) : line).trim();
    if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) throw new ResponseParseError('HPE_INVALID_CHUNK_SIZE', 'Invalid character in chunk size');
    const size = parseInt(hex, 16);
    if (size === 0) this.state = State.Trailers;
    else {
      this.remaining = size;
      this.state = State.ChunkData;
    }
    return lineEnd + 1;
  }

  /** Trailer lines after the last chunk, ignored, up to the blank line that ends the response. */
  private trailers(data: Buffer, at: number): number {
    let from = at;
    while (from < data.length) {
      const lineEnd = data.indexOf(LF, from);
      if (lineEnd < 0) {
        this.chunkLine += data.toString('latin1', from, data.length);
        if (this.chunkLine.length > MAX_HEAD_BYTES) throw new ResponseParseError('HPE_HEADER_OVERFLOW', 'Trailers overflow');
        return data.length;
      }
      const line = this.chunkLine + data.toString('latin1', from, lineEnd);
      this.chunkLine = '';
      from = lineEnd + 1;
      if (line === '' || line === '\r') {
        this.state = State.Done;
        return from;
      }
    }
    return from;
  }
}
