import type { Duplex } from 'node:stream';
import { errorLabel } from './mqtt-labels.ts';
import type { OpenedStream } from './mqtt.ts';

/** What a connection hears from its socket. */
export interface SocketOwner {
  opened(): void;
  received(chunk: Buffer): void;
  failed(label: string): void;
  closed(): void;
}

/**
 * The socket's listeners are shared by every connection, which the socket carries under this key:
 * per connection that is one property instead of four closures, their context and a `once` wrapper.
 */
const CONNECTION = Symbol('mqtt connection');
type OwnedStream = Duplex & { [CONNECTION]: SocketOwner };

function onOpened(this: OwnedStream): void {
  this[CONNECTION].opened();
}

function onData(this: OwnedStream, chunk: Buffer): void {
  this[CONNECTION].received(chunk);
}

function onError(this: OwnedStream, error: Error): void {
  this[CONNECTION].failed(errorLabel(error));
}

function onClose(this: OwnedStream): void {
  this[CONNECTION].closed();
}

/** Hands `owner` its socket's events: the open, each chunk, an error (by its label) and the close, once. */
export function listenTo(opened: OpenedStream, owner: SocketOwner): void {
  const socket = opened.stream as OwnedStream;
  socket[CONNECTION] = owner;
  socket.once(opened.ready, onOpened);
  socket.on('data', onData);
  socket.on('error', onError);
  // A stream emits 'close' once; the owner ignores a second from a stream that does not keep to it.
  socket.on('close', onClose);
}
