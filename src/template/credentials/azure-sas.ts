import { createHmac } from 'node:crypto';
import { secondsArg, stringArg, valueArg } from '../arguments.ts';
import type { FunctionSpec } from '../function-spec.ts';
import { noteDerivedSecret } from './derived-secrets.ts';
import { TokenCache } from './token-cache.ts';

/**
 * An Azure IoT Hub shared access signature, as Azure's "Control access to IoT Hub using SAS tokens"
 * defines it: the HMAC-SHA256, under the base64-decoded key, of the URL-encoded resource URI, a
 * newline and the expiry (epoch seconds), base64 and URL-encoded in `sig`.
 */
export function azureSasToken(resourceUri: string, base64Key: string, expiresAtS: number, policyName: string): string {
  const resource = encodeURIComponent(resourceUri);
  const signature = createHmac('sha256', Buffer.from(base64Key, 'base64')).update(`${resource}\n${expiresAtS}`).digest('base64');
  const token = `SharedAccessSignature sr=${resource}&sig=${encodeURIComponent(signature)}&se=${expiresAtS}`;
  return policyName === '' ? token : `${token}&skn=${encodeURIComponent(policyName)}`;
}

export const AZURE_FUNCTIONS: readonly (readonly [string, FunctionSpec])[] = [
  [
    'azureSas',
    {
      signature: "azureSas(resourceUri, key, ttl = '1h', policyName = '')",
      minArgs: 2,
      maxArgs: 4,
      build(args, _slots, call) {
        const resourceUri = valueArg(args, 0);
        const key = valueArg(args, 1);
        const ttlS = secondsArg(args, 2, 3600);
        if (!(ttlS >= 1)) throw new TypeError('ttl must be at least 1s');
        const policyName = stringArg(args, 3, '');
        const cache = new TokenCache(ttlS * 1000);
        return (context) => {
          const now = Date.now();
          let token = cache.fresh(context, now);
          if (token === undefined) {
            token = azureSasToken(String(resourceUri(context)), String(key(context)), Math.ceil(now / 1000 + ttlS), policyName);
            cache.store(context, token, now);
          }
          noteDerivedSecret(context, token, call.source);
          return token;
        };
      },
    },
  ],
];
