/**
 * OpenSSL's errors carry its source path and internal codes (`error:0A00010B:SSL routines:…
 * ssl3_record.c:350`); a failure label says what happened instead. `plainPeer` names what a
 * non-TLS answer was (`plain HTTP`, `plain MQTT`).
 */
export function tlsErrorLabel(code: string, error: unknown, plainPeer: string): string | undefined {
  // A TLS client reading a plain-text answer ("HTTP/1.1 400", a CONNACK) sees a record of an unknown version or length.
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' || code === 'ERR_SSL_HTTP_REQUEST') return `TLS: the server answered in ${plainPeer}`;
  if (!code.startsWith('ERR_SSL_')) return undefined;
  const reason = (error as { reason?: unknown }).reason;
  return `TLS: ${typeof reason === 'string' ? reason : code.slice('ERR_SSL_'.length).toLowerCase().replaceAll('_', ' ')}`;
}
