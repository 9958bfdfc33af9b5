import { createHmac, createPrivateKey, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { secondsArg, stringArg, valueArg } from '../arguments.ts';
import { registerDataCheck } from '../data-checks.ts';
import type { FunctionSpec } from '../function-spec.ts';
import { noteDerivedSecret } from './derived-secrets.ts';
import { TokenCache } from './token-cache.ts';

export type JwtAlgorithm = 'HS256' | 'RS256' | 'ES256';
const ALGORITHMS: readonly JwtAlgorithm[] = ['HS256', 'RS256', 'ES256'];

/** A key that cannot sign: the device's token cannot be made. */
export class JwtKeyError extends Error {
  readonly code = 'FLEETSIM_JWT_KEY';
  constructor(message: string) {
    super(message);
    this.name = 'JwtKeyError';
  }
}

/** Private keys parsed once each, by their PEM text or file path (a fleet has one a device at most). */
const keys = new Map<string, KeyObject>();

function privateKey(text: string, directory: string, algorithm: 'RS256' | 'ES256'): KeyObject {
  const cacheKey = `${algorithm}\n${directory}\n${text}`;
  let key = keys.get(cacheKey);
  if (key) return key;
  let pem: string | Buffer = text;
  if (!text.includes('-----BEGIN')) {
    try {
      pem = readFileSync(path.resolve(directory, text));
    } catch (error) {
      throw new JwtKeyError(`cannot read the ${algorithm} key ${text}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new JwtKeyError(`the ${algorithm} key ${pem === text ? '(PEM text)' : text} is not a PEM private key`);
  }
  const expected = algorithm === 'RS256' ? 'rsa' : 'ec';
  if (key.asymmetricKeyType !== expected || (algorithm === 'ES256' && key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')) {
    throw new JwtKeyError(
      `${algorithm} needs ${algorithm === 'RS256' ? 'an RSA' : 'a P-256 EC'} private key, got ${key.asymmetricKeyType ?? 'another kind'}${key.asymmetricKeyDetails?.namedCurve ? ` (${key.asymmetricKeyDetails.namedCurve})` : ''}`,
    );
  }
  keys.set(cacheKey, key);
  return key;
}

/** RFC 7515 compact serialisation: base64url(header).base64url(claims).base64url(signature). */
export function signJwt(algorithm: JwtAlgorithm, key: string, claims: Readonly<Record<string, string | number>>, directory = '.'): string {
  const input = `${Buffer.from(JSON.stringify({ alg: algorithm, typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  let signature: Buffer;
  if (algorithm === 'HS256') signature = createHmac('sha256', key).update(input).digest();
  // JWS wants an ECDSA signature as R || S (RFC 7518 §3.4), not DER.
  else signature = sign('sha256', Buffer.from(input), { key: privateKey(key, directory, algorithm), dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

export const JWT_FUNCTIONS: readonly (readonly [string, FunctionSpec])[] = [
  [
    'jwt',
    {
      signature: "jwt(alg, key, subject = '', audience = '', ttl = '1h')",
      minArgs: 2,
      maxArgs: 5,
      build(args, slots, call) {
        const algorithm = stringArg(args, 0);
        if (!(ALGORITHMS as readonly string[]).includes(algorithm)) throw new TypeError(`alg must be ${ALGORITHMS.map((a) => `'${a}'`).join(', ')}, not '${algorithm}'`);
        const alg = algorithm as JwtAlgorithm;
        const key = valueArg(args, 1);
        const subject = args[2] ? valueArg(args, 2) : undefined;
        const audience = args[3] ? valueArg(args, 3) : undefined;
        const ttlS = secondsArg(args, 4, 3600);
        if (!(ttlS >= 1)) throw new TypeError('ttl must be at least 1s');
        const directory = slots.directory ?? '.';
        const literalKey = args[1]?.literal;
        // A key named in the model itself is checked now, at load, rather than on every device.
        if (alg !== 'HS256' && typeof literalKey === 'string') {
          try {
            privateKey(literalKey, directory, alg);
          } catch (error) {
            throw new TypeError((error as Error).message, { cause: error });
          }
        }
        const keySource = args[1]?.source ?? '';
        if (alg !== 'HS256' && keySource.startsWith('data.')) {
          registerDataCheck(slots, keySource.slice(5), (value) => {
            try {
              privateKey(value, directory, alg);
              return undefined;
            } catch (error) {
              return (error as Error).message;
            }
          });
        }
        const cache = new TokenCache(ttlS * 1000);
        return (context) => {
          const now = Date.now();
          let token = cache.fresh(context, now);
          if (token === undefined) {
            const iat = Math.floor(now / 1000);
            const claims: Record<string, string | number> = {};
            const sub = subject === undefined ? '' : String(subject(context));
            const aud = audience === undefined ? '' : String(audience(context));
            if (sub !== '') claims.sub = sub;
            if (aud !== '') claims.aud = aud;
            claims.iat = iat;
            claims.exp = iat + Math.ceil(ttlS);
            token = signJwt(alg, String(key(context)), claims, directory);
            cache.store(context, token, now);
          }
          noteDerivedSecret(context, token, call.source);
          return token;
        };
      },
    },
  ],
];
