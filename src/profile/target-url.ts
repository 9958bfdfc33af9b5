/**
 * An HTTP base URL the transport can use. Credentials in it would be printed in every summary and
 * silently dropped by the pool (it keys on the origin), so they are refused with a pointer to headers.
 */
export function checkTargetUrl(text: string, fail: (problem: string) => Error): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // Even a malformed URL may hold credentials; never echo them.
    throw fail(`'${text.replace(/\/\/[^/@]*@/, '//***@')}' is not a URL (e.g. http://127.0.0.1:8080)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw fail(`expected an http:// or https:// URL, got '${url.protocol}//…'`);
  if (url.username || url.password) {
    throw fail('credentials in the URL are not sent and would be printed; send them in an authorization header instead');
  }
  if (url.search || url.hash) throw fail(`a base URL has no query or fragment, got '${url.origin}${url.pathname}${url.search}${url.hash}'`);
  return text;
}

/**
 * An MQTT broker URL. Credentials belong in the device model's username/password templates (where
 * they can come from the environment), never in a URL that is printed in every summary.
 */
export function checkBrokerUrl(text: string, fail: (problem: string) => Error): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw fail(`'${text.replace(/\/\/[^/@]*@/, '//***@')}' is not a URL (e.g. mqtt://127.0.0.1:1883)`);
  }
  if (url.protocol !== 'mqtt:' && url.protocol !== 'mqtts:') throw fail(`expected an mqtt:// or mqtts:// URL, got '${url.protocol}//…'`);
  if (url.username || url.password) {
    throw fail("credentials in the URL would be printed; set mqtt.username / mqtt.password in the device model (from {{ env.NAME }})");
  }
  if (url.hostname === '') throw fail(`'${text}' names no host`);
  if ((url.pathname !== '' && url.pathname !== '/') || url.search || url.hash) throw fail(`a broker URL is just scheme, host and port, got '${text}'`);
  return text;
}
