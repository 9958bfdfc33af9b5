import { createHmac, timingSafeEqual, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

/**
 * Verifiers written from the specifications, not from fleetsim's signing code: a JWS in compact
 * serialisation (RFC 7515 §7.1, algorithms of RFC 7518 §3) and an Azure IoT Hub SAS token (Azure's
 * "Control access to IoT Hub with shared access signatures": sr, sig, se, optional skn).
 */
export interface VerifiedJwt {
  readonly header: Record<string, unknown>;
  readonly claims: Record<string, unknown>;
}

function base64urlDecode(part: string): Buffer {
  // RFC 7515 §2: base64url without padding; anything outside the alphabet is malformed.
  if (!/^[A-Za-z0-9_-]*$/.test(part)) throw new Error(`not base64url: ${part.slice(0, 20)}`);
  return Buffer.from(part.replaceAll('-', '+').replaceAll('_', '/'), 'base64');
}

export function verifyJwt(token: string, key: KeyObject | string): VerifiedJwt {
  const parts = token.split('.');
  if (parts.length !== 3) throw new Error(`a compact JWS has three parts, this has ${parts.length}`);
  const [encodedHeader, encodedClaims, encodedSignature] = parts as [string, string, string];
  const header = JSON.parse(base64urlDecode(encodedHeader).toString('utf8')) as Record<string, unknown>;
  const claims = JSON.parse(base64urlDecode(encodedClaims).toString('utf8')) as Record<string, unknown>;
  const signingInput = Buffer.from(`${encodedHeader}.${encodedClaims}`, 'ascii');
  const signature = base64urlDecode(encodedSignature);
  let ok: boolean;
  switch (header.alg) {
    case 'HS256': {
      const expected = createHmac('sha256', key).update(signingInput).digest();
      ok = expected.length === signature.length && timingSafeEqual(expected, signature);
      break;
    }
    case 'RS256':
      ok = verify('sha256', signingInput, key, signature);
      break;
    case 'ES256':
      // RFC 7518 §3.4: the signature is R || S, 32 octets each, not DER.
      if (signature.length !== 64) throw new Error(`an ES256 signature is 64 octets, this is ${signature.length}`);
      ok = verify('sha256', signingInput, { key: key as KeyObject, dsaEncoding: 'ieee-p1363' }, signature);
      break;
    default:
      throw new Error(`unexpected alg ${String(header.alg)}`);
  }
  if (!ok) throw new Error('signature does not verify');
  return { header, claims };
}

export interface VerifiedSas {
  readonly resourceUri: string;
  readonly expiresAtS: number;
  readonly policyName: string | undefined;
}

export function verifyAzureSas(token: string, base64Key: string): VerifiedSas {
  const prefix = 'SharedAccessSignature ';
  if (!token.startsWith(prefix)) throw new Error('a SAS token starts with "SharedAccessSignature "');
  const fields = new Map(
    token
      .slice(prefix.length)
      .split('&')
      .map((pair) => {
        const eq = pair.indexOf('=');
        return [pair.slice(0, eq), pair.slice(eq + 1)] as [string, string];
      }),
  );
  const sr = fields.get('sr');
  const sig = fields.get('sig');
  const se = fields.get('se');
  if (sr === undefined || sig === undefined || se === undefined) throw new Error('sr, sig and se are required');
  // The string to sign is the URL-encoded resource URI as it appears in sr, a newline, the expiry.
  const expected = createHmac('sha256', Buffer.from(base64Key, 'base64')).update(`${sr}\n${se}`).digest();
  const given = Buffer.from(decodeURIComponent(sig), 'base64');
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw new Error('sig does not verify');
  const skn = fields.get('skn');
  return { resourceUri: decodeURIComponent(sr), expiresAtS: Number(se), policyName: skn === undefined ? undefined : decodeURIComponent(skn) };
}
