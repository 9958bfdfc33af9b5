import type { HttpClientKind } from '../../src/transport/http/http.ts';

/** Both HTTP/1.1 clients a profile can choose (`http.client`): the HTTP tests run each case on both. */
export const HTTP_CLIENTS: readonly HttpClientKind[] = ['undici', 'native'];
