import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './cli.ts';

const run = promisify(execFile);
const CA_DIR = path.join(ROOT, 'test/fixtures/tls');

/** The test CA's certificate, which signs the server's and every device's certificate. */
export const TEST_CA = path.join(CA_DIR, 'ca.crt');

/**
 * Makes a client certificate (`NAME.crt`, `NAME.key`, subject CN=NAME) per name in `dir`, signed by
 * the test CA with `openssl`: a fleet provisioned with one certificate per device.
 */
export async function makeDeviceCerts(dir: string, names: readonly string[]): Promise<void> {
  for (const name of names) {
    const file = (ext: string): string => path.join(dir, `${name}.${ext}`);
    await run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', file('key'), '-subj', `/CN=${name}`, '-out', file('csr')]);
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      file('csr'),
      '-CA',
      TEST_CA,
      '-CAkey',
      path.join(CA_DIR, 'ca.key'),
      '-CAcreateserial',
      '-CAserial',
      path.join(dir, 'ca.srl'),
      '-days',
      '1',
      '-out',
      file('crt'),
    ]);
  }
}
