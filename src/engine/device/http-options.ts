import { certificatePerDevice } from '../../profile/types.ts';
import type { HttpSettings } from '../../profile/types.ts';
import type { HttpTransportOptions } from '../../transport/http/http.ts';
import { DeviceTlsResolver } from '../mqtt/tls-files.ts';
import type { DeviceTlsSource } from '../mqtt/tls-files.ts';

/**
 * The transport's options for a run: TLS material shared by the fleet when every device presents
 * the same certificate (or none), else resolved per device, once, when it first sends.
 */
export function httpTransportOptions(http: HttpSettings, target: URL, source: DeviceTlsSource): HttpTransportOptions {
  const base = { connections: http.connections, connectionPerDevice: http.connectionPerDevice, timeoutMs: http.timeoutMs, client: http.client };
  if (!http.tls || target.protocol !== 'https:') return base;
  const resolver = new DeviceTlsResolver(http.tls, source);
  if (certificatePerDevice(http.tls)) return { ...base, tlsFor: (index) => resolver.forDevice(index) };
  // Fixed paths were read at load; the first device's view of them is every device's.
  return { ...base, tls: resolver.forDevice(0) };
}

/** How `validate` says the fleet's HTTP connections are made. */
export function describeHttpConnections(http: HttpSettings): string {
  const perDevice = certificatePerDevice(http.tls);
  if (http.connectionPerDevice) return `one keep-alive connection per device${perDevice ? ', each presenting its own client certificate' : ''}`;
  if (perDevice)
    return `one pool (up to ${http.connections} connections) per distinct client certificate (${http.tls?.cert?.source ?? ''}): devices with their own certificate each get their own connection`;
  return `one shared pool of up to ${http.connections} connections`;
}
