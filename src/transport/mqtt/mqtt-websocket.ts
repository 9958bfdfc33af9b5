import type { ConnectionOptions } from 'node:tls';
import type { Duplex } from 'node:stream';
import { WebSocket, createWebSocketStream } from 'ws';

/**
 * MQTT over WebSocket (MQTT 5 §6, 3.1.1 §6): binary frames on a connection that asked for the `mqtt`
 * subprotocol, as AWS IoT, Azure IoT Hub and gateways on port 443 expect. The client is the same;
 * only its byte stream differs. The stream emits `connect` once the upgrade is done, as a socket
 * would, so the connection writes its CONNECT then.
 */
export function openWebSocket(url: string, options: ConnectionOptions & { readonly localAddress?: string }): Duplex {
  // ws sets noDelay on its socket; compression would only spend CPU on small binary packets.
  // TLS options and `localAddress` go on to the http(s) request that opens the connection.
  const socket = new WebSocket(url, ['mqtt'], { ...options, perMessageDeflate: false });
  const stream = createWebSocketStream(socket);
  socket.once('open', () => stream.emit('connect'));
  return stream;
}
