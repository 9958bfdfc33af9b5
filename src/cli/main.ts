import yargs from 'yargs';
import type { Argv } from 'yargs';
import { isUserError, UsageError } from '../errors.ts';
import { toolVersion } from '../version.ts';
import { fixtureCommand } from './fixture-command.ts';
import { EXIT, runCommand } from './run-command.ts';
import type { Output } from './run-command.ts';
import { validateCommand } from './validate-command.ts';

const processOutput: Output = {
  stdout: (text) => void process.stdout.write(`${text}\n`),
  stderr: (text) => void process.stderr.write(`${text}\n`),
};

function runOptions<T>(argv: Argv<T>) {
  return argv
    .positional('profile', { type: 'string', demandOption: true, describe: 'run profile (YAML)' })
    .option('devices', { alias: 'u', type: 'number', describe: 'total devices (split across the fleet in proportion)' })
    .option('spawn-rate', { alias: 'r', type: 'number', describe: 'devices started per second' })
    .option('duration', { alias: 't', type: 'string', describe: 'run time, e.g. 30s, 5m' })
    .option('iterations', { type: 'number', describe: 'tasks each device runs after boot, then stops' })
    .option('seed', { type: 'string', describe: 'seed for identities, task picks, waits and payloads' })
    .option('target', { type: 'string', describe: 'HTTP base URL (overrides the profile)' })
    .option('threshold', { type: 'string', array: true, describe: "pass/fail criterion, e.g. 'p95 < 200ms' (repeatable)" });
}

/** Parses argv, runs the command, and returns the exit code. The only place that knows about process exit codes. */
export async function execute(args: readonly string[], output: Output = processOutput): Promise<number> {
  let exitCode: number = EXIT.ok;
  const cli = yargs([...args])
    .scriptName('fleetsim')
    .version(toolVersion())
    .strict()
    .demandCommand(1, 'Name a command: run, validate or fixture.')
    .recommendCommands()
    .exitProcess(false)
    .fail((message: string | undefined, error: Error | undefined) => {
      if (error) throw error;
      throw new UsageError(message ?? 'invalid usage');
    })
    .command(
      'run <profile>',
      'run a fleet (starts the embedded fixture when no target is given)',
      (argv) =>
        runOptions(argv)
          .option('json', { type: 'string', describe: 'write results JSON to FILE' })
          .option('log-requests', { type: 'string', describe: 'write one NDJSON line per attempt to FILE' })
          .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no progress lines' }),
      async (argv) => {
        exitCode = await runCommand(argv, output);
      },
    )
    .command(
      'validate <profile>',
      'check a profile and its device models without running',
      (argv) => runOptions(argv),
      async (argv) => {
        exitCode = await validateCommand(argv, output);
      },
    )
    .command(
      'fixture',
      'run the embedded HTTP fixture standalone',
      (argv) =>
        argv
          .option('http-port', { type: 'number', default: 8080 })
          .option('host', { type: 'string', default: '127.0.0.1' })
          .option('latency', { type: 'number', default: 0, describe: 'ms added to every answer' })
          .option('error-rate', { type: 'number', default: 0, describe: 'fraction answered 503' }),
      async (argv) => {
        exitCode = await fixtureCommand(argv, output);
      },
    )
    .help();
  try {
    await cli.parseAsync();
  } catch (error) {
    if (isUserError(error)) {
      output.stderr(`fleetsim: ${error.message}`);
      return EXIT.usage;
    }
    output.stderr(`fleetsim: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return EXIT.internal;
  }
  return exitCode;
}

export async function main(args: readonly string[]): Promise<void> {
  process.exitCode = await execute(args);
}
