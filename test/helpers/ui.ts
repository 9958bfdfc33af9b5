import { startCli } from './cli.ts';
import type { CliRun } from './cli.ts';

export interface RunningUi {
  readonly cli: CliRun;
  /** The server's base, on 127.0.0.1 whatever address it listens on. */
  readonly base: string;
  /** The token printed in the page's URL, when one was generated. */
  readonly token: string | undefined;
}

const URL_LINE = /fleetsim UI at (http:\/\/\S+)/;

/** Starts `fleetsim ui …` or `run … --ui` on a free port and reads the URL it prints. */
export async function startUi(args: readonly string[], deadlineMs = 60_000, env?: NodeJS.ProcessEnv): Promise<RunningUi> {
  const cli = startCli([...args, '--ui-port', '0'], deadlineMs, undefined, undefined, env);
  await cli.waitForStderr(URL_LINE, 30_000);
  const url = new URL(URL_LINE.exec(cli.stderrSoFar())?.[1] ?? '');
  return { cli, base: `http://127.0.0.1:${url.port}`, token: url.searchParams.get('token') ?? undefined };
}

/** Ctrl-C, then the exit: the UI drains a run going, writes its reports and quits. */
export async function quitUi(ui: RunningUi): Promise<{ code: number | null; stderr: string; stdout: string }> {
  ui.cli.child.kill('SIGINT');
  return ui.cli.done;
}
