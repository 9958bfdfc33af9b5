/** `host`, or `host:port` / `[::1]:port` perhaps with a path or query: a URL without its `scheme://`. */
const HOST_WITHOUT_SCHEME = /^(?:[^/@]*@)?(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d+(?:[/?#]|$)|$)/i;

/** Parses a URL of one of `schemes`, refusing credentials in it; never echoes them in a message. */
function parseEndpoint(text: string, schemes: readonly string[], example: string, credentialsAdvice: string, fail: (problem: string) => Error): URL {
  // Even a malformed URL may hold credentials; never echo them.
  const shown = text.replace(/\/\/[^/@]*@/, '//***@').replace(/^[^/@]*@/, '***@');
  // `localhost:8080` parses as a URL of scheme `localhost:`: say what was typed, and what was meant.
  if (HOST_WITHOUT_SCHEME.test(text)) throw fail(`'${shown}' has no scheme: did you mean '${schemes[0] ?? ''}//${shown}'?`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw fail(`'${shown}' is not a URL (e.g. ${example})`);
  }
  if (!schemes.includes(url.protocol)) throw fail(`expected an ${schemes.map((scheme) => `${scheme}//`).join(' or ')} URL, got '${url.protocol}//…'`);
  if (url.username || url.password) throw fail(credentialsAdvice);
  return url;
}

/**
 * An HTTP base URL the transport can use. Credentials in it would be printed in every summary and
 * silently dropped by the pool (it keys on the origin), so they are refused with a pointer to headers.
 */
export function checkTargetUrl(text: string, fail: (problem: string) => Error): string {
  const url = parseEndpoint(text, ['http:', 'https:'], 'http://127.0.0.1:8080', 'credentials in the URL are not sent and would be printed; send them in an authorization header instead', fail);
  if (url.search || url.hash) throw fail(`a base URL has no query or fragment, got '${url.origin}${url.pathname}${url.search}${url.hash}'`);
  return text;
}

/**
 * An MQTT broker URL. Credentials belong in the device model's username/password templates (where
 * they can come from the environment), never in a URL that is printed in every summary.
 */
export function checkBrokerUrl(text: string, fail: (problem: string) => Error): string {
  const advice = 'credentials in the URL would be printed; set mqtt.username / mqtt.password in the device model (from {{ env.NAME }})';
  const url = parseEndpoint(text, ['mqtt:', 'mqtts:', 'ws:', 'wss:'], 'mqtt://127.0.0.1:1883', advice, fail);
  if (url.hostname === '') throw fail(`'${text}' names no host`);
  // Over WebSocket the path is the broker's endpoint (often /mqtt); over TCP there is none.
  if (url.protocol === 'ws:' || url.protocol === 'wss:') {
    if (url.search || url.hash) throw fail(`a WebSocket broker URL is scheme, host, port and path, without query or fragment, got '${text}'`);
  } else if ((url.pathname !== '' && url.pathname !== '/') || url.search || url.hash) {
    throw fail(`an mqtt:// broker URL is just scheme, host and port (a path is for ws:// and wss://), got '${text}'`);
  }
  return text;
}
