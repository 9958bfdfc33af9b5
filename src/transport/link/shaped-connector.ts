import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import { buildConnector } from 'undici';
import { ShapedStream } from './shaped-stream.ts';
import type { LinkConditions } from './link-conditions.ts';

/**
 * An undici connector whose connections cross a device's simulated link. For https:// the link
 * sits under TLS (undici's `httpSocket`), so the handshake's round trips cross it; for http:// the
 * connected socket is wrapped and handed over one round trip later, as a TCP handshake takes.
 */
export function shapedConnector(options: buildConnector.BuildOptions, link: LinkConditions): buildConnector.connector {
  const base = buildConnector(options);
  return (connectOptions, callback) => {
    if (connectOptions.protocol === 'https:') {
      const raw = netConnect({
        host: connectOptions.hostname,
        port: Number(connectOptions.port) || 443,
        noDelay: true,
        ...(connectOptions.localAddress ? { localAddress: connectOptions.localAddress } : {}),
      });
      const shaped = new ShapedStream(raw, link, 'connect');
      // undici's TLS socket reads and writes `httpSocket` as any Duplex.
      base({ ...connectOptions, httpSocket: shaped as unknown as Socket }, callback);
      return;
    }
    base(connectOptions, (error, socket) => {
      if (error || !socket) return callback(error ?? new Error('no socket'), null);
      const shaped = new ShapedStream(socket, link, undefined);
      shaped.afterRoundTrip(() => callback(null, shaped as unknown as Socket));
    });
  };
}
