import { after, before } from 'node:test';
import { HttpFixture } from '../../broker-fixture/index.ts';
import { TempDir } from './temp-files.ts';

/** What a test file shares: a scratch directory and one HTTP fixture on a free port. */
export interface HttpFixtureSuite {
  readonly temp: TempDir;
  readonly server: HttpFixture;
  readonly url: string;
}

/** Registers the file's before/after hooks; the fields are readable once tests run. */
export function useHttpFixture(): HttpFixtureSuite {
  let temp: TempDir | undefined;
  let server: HttpFixture | undefined;
  let url: string | undefined;
  before(async () => {
    temp = await TempDir.create();
    server = new HttpFixture();
    url = await server.listen(0);
  });
  after(async () => {
    await server?.close();
    await temp?.remove();
  });
  const ready = <T>(value: T | undefined, name: string): T => {
    if (value === undefined) throw new Error(`${name} is set up in before(); read it inside a test`);
    return value;
  };
  return {
    get temp() {
      return ready(temp, 'temp');
    },
    get server() {
      return ready(server, 'server');
    },
    get url() {
      return ready(url, 'url');
    },
  };
}
