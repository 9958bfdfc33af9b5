import { connect } from 'node:net';
import { pipeline } from 'node:stream';
import { createWebSocketStream, WebSocketServer } from 'ws';

/**
 * A WebSocket-to-TCP gateway in front of a broker, as a load balancer terminating WebSocket would be
 * (Debian's Mosquitto 2.0.11 cannot open a websockets listener): `ws-gateway.ts PORT BROKER_PORT`.
 */
const [port, brokerPort] = process.argv.slice(2).map(Number);
const server = new WebSocketServer({ host: '127.0.0.1', port, path: '/mqtt', perMessageDeflate: false, handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : false) });
server.on('connection', (socket) => {
  const upstream = connect({ host: '127.0.0.1', port: brokerPort as number, noDelay: true });
  const stream = createWebSocketStream(socket);
  pipeline(stream, upstream, stream, () => undefined);
});
