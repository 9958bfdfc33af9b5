import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkFileLimit, openFileLimit } from '../../../src/engine/fleet/fd-limit.ts';
import { TempDir } from '../../helpers/temp-files.ts';

test('reads the soft open-file limit from /proc-style limits', async () => {
  const temp = await TempDir.create();
  try {
    const file = await temp.write(
      'limits',
      'Limit                     Soft Limit           Hard Limit           Units     \nMax open files            4096                 524288               files     \n',
    );
    assert.equal(openFileLimit(file), 4096);
    const unlimited = await temp.write('unlimited', 'Max open files            unlimited            unlimited            files     \n');
    assert.equal(openFileLimit(unlimited), undefined);
    assert.equal(openFileLimit(temp.file('absent')), undefined);
  } finally {
    await temp.remove();
  }
});

test('a run that needs more descriptors than the limit fails with the numbers and the remedies', () => {
  assert.doesNotThrow(() => checkFileLimit(1000, 'x', 2000));
  assert.throws(() => checkFileLimit(19_990, '19990 MQTT sessions', 20_000), {
    code: 'FLEETSIM_FD_LIMIT',
    message: /needs about 20054 open files \(19990 MQTT sessions\) but the process limit is 20000 \(ulimit -n\): raise it \(e\.g\. 'ulimit -n 65536'/,
  });
  assert.doesNotThrow(() => checkFileLimit(1_000_000, 'x', undefined));
});
