import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { describe, test } from 'node:test';
import { compileTemplate, TemplateError } from '../../../src/template/compile.ts';
import { derivedSecrets } from '../../../src/template/credentials/derived-secrets.ts';
import { verifyAzureSas, verifyJwt } from '../../helpers/token-verifier.ts';
import { testDevice, TestSlots } from '../../helpers/template-slots.ts';

const DEVICE_KEY = Buffer.from('a device key of thirty-two bytes').toString('base64');

function render(text: string, data: Record<string, string> = {}, slots = new TestSlots()): { value: unknown; device: ReturnType<typeof testDevice> } {
  const template = compileTemplate(text, slots);
  const device = testDevice(slots, '7', 3, data);
  return { value: template.evaluate(device), device };
}

describe('encodings and HMAC', () => {
  test('concat, base64, base64url and hmacSha256 take fields and nested calls', () => {
    assert.equal(render("{{ concat('hub/devices/', device.id, '/', device.index) }}").value, 'hub/devices/dev-3/3');
    assert.equal(render('{{ base64url(data.text) }}', { text: 'ÿþ?>' }).value, Buffer.from('ÿþ?>').toString('base64url'));
    assert.equal(render('{{ base64(data.text) }}', { text: 'ÿþ?>' }).value, Buffer.from('ÿþ?>').toString('base64'));
    // Azure DPS derives a device's key from the group key: HMAC-SHA256(base64-decoded group key, registration id).
    const { value, device } = render("{{ hmacSha256(data.group, device.id, 'base64', 'base64') }}", { group: DEVICE_KEY });
    assert.equal(value, createHmac('sha256', Buffer.from(DEVICE_KEY, 'base64')).update('dev-3').digest('base64'));
    assert.equal(derivedSecrets(device)?.get(value), "{{ hmacSha256(data.group, device.id, 'base64', 'base64') }}");
    assert.equal(render("{{ hmacSha256('k', 'm', 'utf8', 'hex') }}").value, createHmac('sha256', 'k').update('m').digest('hex'));
  });

  test('bad encodings and literal-only arguments are load-time errors', () => {
    assert.throws(
      () => render("{{ hmacSha256('k', 'm', 'latin1') }}"),
      (error: unknown) => error instanceof TemplateError && /keyEncoding must be 'utf8', 'base64', 'hex'/.test(error.message),
    );
    assert.throws(() => render("{{ hmacSha256('k', 'm', 'utf8', device.id) }}"), /argument 4 must be a literal/);
  });
});

describe('Azure IoT Hub SAS tokens', () => {
  test('verify against the key, carry the resource and expiry, and are reused while fresh', () => {
    const before = Math.floor(Date.now() / 1000);
    const text = "{{ azureSas(concat('myhub.azure-devices.net/devices/', device.id), data.key, '2h') }}";
    const slots = new TestSlots();
    const template = compileTemplate(text, slots);
    const device = testDevice(slots, '7', 3, { key: DEVICE_KEY });
    const token = template.evaluate(device) as string;
    const verified = verifyAzureSas(token, DEVICE_KEY);
    assert.equal(verified.resourceUri, 'myhub.azure-devices.net/devices/dev-3');
    assert.ok(verified.expiresAtS >= before + 7200 && verified.expiresAtS <= Math.ceil(Date.now() / 1000) + 7200, `expiry ${verified.expiresAtS}`);
    assert.equal(verified.policyName, undefined);
    assert.throws(() => verifyAzureSas(token, Buffer.from('another key').toString('base64')), /sig does not verify/);
    assert.equal(template.evaluate(device), token, 'the same token until half its lifetime has passed');
    assert.equal(derivedSecrets(device)?.get(token), `{{ ${text.slice(3, -3)} }}`);
  });

  test('a policy name goes in skn', () => {
    const { value } = render("{{ azureSas('myhub.azure-devices.net', data.key, 60, 'service') }}", { key: DEVICE_KEY });
    assert.equal(verifyAzureSas(value as string, DEVICE_KEY).policyName, 'service');
  });
});

describe('JWTs', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = (key: typeof rsa.privateKey): string => key.export({ type: 'pkcs8', format: 'pem' }) as string;

  test('RS256 and ES256 verify against the public keys; claims carry subject, audience and lifetime', () => {
    for (const [alg, pair] of [
      ['RS256', rsa],
      ['ES256', ec],
    ] as const) {
      const before = Math.floor(Date.now() / 1000);
      const { value, device } = render(`{{ jwt('${alg}', data.key, device.id, 'mqtt.example.com', '15m') }}`, { key: pem(pair.privateKey) });
      const { header, claims } = verifyJwt(value as string, pair.publicKey);
      assert.deepEqual(header, { alg, typ: 'JWT' });
      assert.equal(claims.sub, 'dev-3');
      assert.equal(claims.aud, 'mqtt.example.com');
      assert.ok((claims.iat as number) >= before && (claims.iat as number) <= Date.now() / 1000);
      assert.equal((claims.exp as number) - (claims.iat as number), 900);
      assert.throws(() => verifyJwt(value as string, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey), /does not verify/);
      assert.ok(derivedSecrets(device)?.has(value as string));
    }
  });

  test('HS256 verifies with the shared secret; an empty subject or audience is left out', () => {
    const { value } = render("{{ jwt('HS256', data.secret) }}", { secret: 'per-device secret' });
    const { claims } = verifyJwt(value as string, 'per-device secret');
    assert.deepEqual(Object.keys(claims), ['iat', 'exp']);
    assert.throws(() => verifyJwt(value as string, 'another secret'), /does not verify/);
  });

  test('a key of the wrong kind, or an unknown algorithm, is refused', () => {
    assert.throws(() => render(`{{ jwt('ES256', data.key) }}`, { key: pem(rsa.privateKey) }), /ES256 needs a P-256 EC private key, got rsa/);
    assert.throws(() => render("{{ jwt('none', 'x') }}"), /alg must be 'HS256', 'RS256', 'ES256', not 'none'/);
    assert.throws(() => render("{{ jwt('RS256', 'missing.pem') }}"), /cannot read the RS256 key missing\.pem: ENOENT/);
  });
});
