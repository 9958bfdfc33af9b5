import yargs from 'yargs';
import type { Argv } from 'yargs';
import { closest } from '../util/did-you-mean.ts';
import { isUserError, UsageError } from '../errors.ts';
import { toolVersion } from '../util/version.ts';
import { capacityCommand } from './capacity-command.ts';
import { fixtureCommand } from './fixture-command.ts';
import { idsCommand } from './ids-command.ts';
import { mergeCommand } from './merge-command.ts';
import { coordinateCommand } from './coordinate-command.ts';
import { workerCommand } from './worker-command.ts';
import { EXIT, runCommand } from './run-command.ts';
import type { Output } from './run-command.ts';
import { uiCommand } from './ui-command.ts';
import { validateCommand } from './validate-command.ts';
import { releaseHeldSignals } from './early-signals.ts';
import { fitWidth } from '../report/progress-line.ts';

/** On a terminal the progress line is redrawn in place; piped, it is a plain line each time. */
function processOutput(): Output {
  let drawn = false;
  const endLine = (): void => {
    if (drawn) process.stderr.write('\n');
    drawn = false;
  };
  return {
    stdout: (text) => {
      endLine();
      process.stdout.write(`${text}\n`);
    },
    stderr: (text) => {
      endLine();
      process.stderr.write(`${text}\n`);
    },
    progress: (line) => {
      if (!process.stderr.isTTY) return void process.stderr.write(`${line}\n`);
      // Whoever drew the line, it never wraps: a wrapped fragment would stay behind on every redraw.
      const columns = process.stderr.columns;
      process.stderr.write(`\r\x1b[2K${columns > 1 ? fitWidth(line, columns - 1) : line}`);
      drawn = true;
    },
    columns: () => (process.stderr.isTTY ? process.stderr.columns : undefined),
    endProgress: endLine,
  };
}

// Values are read as text with exactly one argument each, so `--duration -5s` reaches our check
// (instead of becoming flags -5 and -s), `--threshold EXPR profile.yaml` leaves the profile alone,
// and a bad number is echoed as typed.
const value = { type: 'string', nargs: 1, requiresArg: true } as const;

function runOptions<T>(argv: Argv<T>) {
  return argv
    .positional('profile', { type: 'string', demandOption: true, describe: 'run profile (YAML)' })
    .option('devices', { ...value, alias: 'u', describe: 'total devices (split across the fleet in proportion)' })
    .option('spawn-rate', { ...value, alias: 'r', describe: 'devices started per second' })
    .option('duration', { ...value, alias: 't', describe: "run time, e.g. 30s, 5m (replaces the profile's end)" })
    .option('iterations', { ...value, alias: 'i', describe: "tasks each device runs after boot, then stops (replaces the profile's end)" })
    .option('seed', { ...value, describe: 'seed for identities, task picks, waits and payloads' })
    .option('target', { ...value, describe: 'HTTP base URL (overrides the profile)' })
    .option('broker', { ...value, describe: 'MQTT broker URL, mqtt:// or mqtts:// (overrides the profile)' })
    .option('threshold', { ...value, describe: "pass/fail criterion, e.g. 'p95 < 200ms' (repeatable)" })
    .option('stage', { ...value, describe: "load stage DURATION:DEVICES, e.g. 30s:200 (repeatable; replaces the profile's shape and end)" })
    .option('min-delivered', { ...value, describe: "share of the offered load the run must deliver for its verdict to be about the target (default 95%; 'off')" });
}

function uiOptions<T>(argv: Argv<T>) {
  return argv
    .option('ui-port', { ...value, describe: 'port of the live web UI (default 8089; 0 picks a free one)' })
    .option('ui-host', { ...value, describe: 'address the UI listens on (default 127.0.0.1; any other needs the token)' })
    .option('ui-token', { ...value, describe: 'token the UI and its API require (better: FLEETSIM_UI_TOKEN); generated and printed when off loopback' });
}

/** Every flag `run` takes: also the list a split run must honour or refuse (distributed/run-flags.ts). */
export function runCommandOptions<T>(argv: Argv<T>) {
  return uiOptions(runOptions(argv))
    .option('json', { ...value, describe: 'write results JSON to FILE (- for stdout; the summary then goes to stderr)' })
    .option('exit-code-on-error', { ...value, describe: "exit with this code when any attempt failed (Locust's flag; thresholds and interrupts take precedence)" })
    .option('csv', { ...value, describe: 'write Locust-style PREFIX_stats.csv, PREFIX_stats_history.csv, PREFIX_failures.csv, PREFIX_exceptions.csv' })
    .option('html', { ...value, describe: 'write a self-contained HTML report with charts to FILE' })
    .option('log-requests', { ...value, describe: 'write one NDJSON line per attempt to FILE' })
    .option('metrics-port', { ...value, describe: 'serve Prometheus metrics at /metrics on PORT during the run (0 picks a free one)' })
    .option('metrics-host', { ...value, describe: 'address the metrics endpoint listens on (default 127.0.0.1)' })
    .option('shard', { ...value, describe: 'run shard I (0-based) of N: the devices whose index is I mod N, e.g. 0/3' })
    .option('workers', { ...value, describe: 'run the fleet in N local worker processes under a coordinator here: one start, one merged result (default 1: this process)' })
    .option('start-at', { ...value, describe: 'wait until this ISO time (e.g. 2026-05-01T12:00:00Z) to start, so shards begin together' })
    .option('local-ips', {
      ...value,
      describe: "connect from these source addresses of this host, round-robin by device index, e.g. 10.0.0.5,10.0.0.6 (past one address's ~28k ephemeral ports toward one broker port)",
    })
    .option('broker-stats', { type: 'boolean', default: false, describe: "record the broker's own $SYS figures (Mosquitto) beside fleetsim's" })
    .option('ui', { type: 'boolean', default: false, describe: 'serve the live web UI while running, and after, until Ctrl-C' })
    .option('max-devices', { ...value, describe: "with --ui: the most devices the page may raise the run to (default: the larger of -u and the profile's fleet)" })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no progress lines' });
}

/** yargs's "Unknown argument: durtion" gains "did you mean --duration?" from the command's own flags. */
function withFlagSuggestions(message: string, instance: unknown): string {
  const unknown = /^Unknown arguments?: (.+)$/.exec(message);
  if (!unknown) return message;
  // getOptions is yargs's own (public on the instance, missing from its typings): the flags the command declared.
  const options = (instance as { getOptions?: () => { key: Record<string, unknown> } }).getOptions?.().key ?? {};
  const known = Object.keys(options).filter((key) => key.length > 1 && !/[A-Z]/.test(key));
  const hints = (unknown[1] ?? '').split(', ').flatMap((name) => {
    const guess = closest(name, known);
    return guess ? [`--${name}: did you mean --${guess}?`] : [];
  });
  return hints.length > 0 ? `${message} (${hints.join('; ')})` : message;
}

const COMMANDS = ['run', 'coordinate', 'worker', 'ui', 'validate', 'capacity', 'merge', 'ids', 'fixture'];

/** Parses argv, runs the command, and returns the exit code. The only place that knows about process exit codes. */
export async function execute(args: readonly string[], output: Output = processOutput()): Promise<number> {
  let exitCode: number = EXIT.ok;
  const cli = yargs([...args])
    .scriptName('fleetsim')
    .version(toolVersion())
    .strict()
    .demandCommand(1, `Name a command: ${COMMANDS.join(', ')}.`)
    .exitProcess(false)
    // Every flag can also come from the environment, FLEETSIM_DURATION=5m for --duration; a flag wins.
    .env('FLEETSIM')
    .fail((message: string | undefined, error: Error | undefined) => {
      // yargs reports its own validation problems (a flag missing its value) as YError: usage, not a crash.
      if (error && error.name !== 'YError') throw error;
      throw new UsageError(withFlagSuggestions(message ?? 'invalid usage', cli));
    })
    .command(
      'run <profile>',
      'run a fleet (starts the embedded fixture when no target is given)',
      (argv) => runCommandOptions(argv),
      async (argv) => {
        exitCode = await runCommand(argv, output);
      },
    )
    .command(
      'coordinate <profile>',
      'coordinate a fleet split over worker processes or pods: shards, a common start, live merge, one result',
      (argv) =>
        runCommandOptions(argv)
          .option('listen', { ...value, describe: 'HOST:PORT the workers join (default 127.0.0.1:7070; 0.0.0.0:7070 in a pod; port 0 picks one)' })
          .option('token', { ...value, describe: 'token the workers must present (better: FLEETSIM_TOKEN); generated and printed when not given' })
          .option('lost-after', { ...value, describe: 'a worker silent this long is lost (default 10s)' })
          .option('linger', { ...value, describe: 'after the run, serve the results at /results.json this long (e.g. 30m)' })
          .option('local', { type: 'boolean', default: false, describe: 'start the N workers here, as child processes' }),
      async (argv) => {
        exitCode = await coordinateCommand(argv, output);
      },
    )
    .command(
      'worker',
      "join a coordinator and run the shard it hands out (fleetsim coordinate's other half)",
      (argv) =>
        argv
          .option('join', { ...value, describe: "the coordinator's URL, e.g. http://fleetsim-coordinator:7070" })
          .option('token', { ...value, describe: "the coordinator's token (better: FLEETSIM_TOKEN)" })
          .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no progress lines' }),
      async (argv) => {
        exitCode = await workerCommand(argv, output);
      },
    )
    .command(
      'ui <profile>',
      'serve the live web UI: set devices, rate and duration, start, watch, steer, stop and download runs',
      (argv) =>
        uiOptions(runOptions(argv))
          .option('json', { ...value, describe: "also write each run's results JSON to FILE" })
          .option('csv', { ...value, describe: "also write each run's Locust-style CSVs to PREFIX_*.csv" })
          .option('html', { ...value, describe: "also write each run's HTML report to FILE" })
          .option('log-requests', { ...value, describe: 'write one NDJSON line per attempt to FILE (downloadable from the page)' })
          .option('max-devices', { ...value, describe: "the form's default for the most devices a run may be raised to (default: the larger of -u and the profile's fleet)" })
          .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no progress lines' }),
      async (argv) => {
        exitCode = await uiCommand(argv, output, process, false);
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
      'capacity <profile>',
      'step one fleet up until an SLO breaks: the largest passing step, and whose limit it was',
      (argv) =>
        uiOptions(argv)
          .positional('profile', { type: 'string', demandOption: true, describe: 'run profile (YAML)' })
          .option('slo', { ...value, describe: "service level each step must meet, threshold grammar, e.g. 'p95 < 250ms', 'PUBLISH: timeouts < 0.1%' (repeatable, required)" })
          .option('start', { ...value, describe: 'devices at the first step (default 10)' })
          .option('step', { ...value, describe: 'devices added per step (default: --start)' })
          .option('factor', { ...value, describe: 'grow the device count by this factor per step instead (geometric)' })
          .option('step-duration', { ...value, describe: 'time each step is judged over, whole seconds (default 10s)' })
          .option('settle', { ...value, describe: "time after a step's ramp before its window opens (default 3s)" })
          .option('max-devices', { ...value, describe: "the largest step (default: the profile's fleet size)" })
          .option('refine', { type: 'boolean', default: false, describe: 'bisect between the last passing and the first failing step' })
          .option('repeat', { ...value, describe: 'measure the steps either side of the knee N more times each and report the spread (1-10)' })
          .option('spawn-rate', { ...value, alias: 'r', describe: 'devices started per second while stepping up' })
          .option('seed', { ...value, describe: 'seed for identities, task picks, waits and payloads' })
          .option('target', { ...value, describe: 'HTTP base URL (overrides the profile)' })
          .option('broker', { ...value, describe: 'MQTT broker URL, mqtt:// or mqtts:// (overrides the profile)' })
          .option('json', { ...value, describe: 'write the capacity result (fleetsim.capacity/v1) to FILE' })
          .option('results', { ...value, describe: "write the whole run's results JSON (with its history) to FILE" })
          .option('html', { ...value, describe: 'write a self-contained HTML report of the run and its steps, knee marked, to FILE' })
          .option('ui', { type: 'boolean', default: false, describe: 'follow the search on the live web UI (steps, knee), served until Ctrl-C' })
          .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no progress lines' }),
      async (argv) => {
        exitCode = await capacityCommand(argv, output);
      },
    )
    .command(
      'ids <profile>',
      "the fleet's devices as CSV (index,id,model[,clientId]), derived from the seed as a run derives them",
      (argv) =>
        argv
          .positional('profile', { type: 'string', demandOption: true, describe: 'run profile (YAML)' })
          .option('devices', { ...value, alias: 'u', describe: 'total devices (split across the fleet in proportion)' })
          .option('seed', { ...value, describe: "seed the ids derive from (default: the profile's)" })
          .option('csv', { ...value, describe: 'write to FILE instead of stdout' }),
      async (argv) => {
        exitCode = await idsCommand(argv, output);
      },
    )
    .command(
      'merge <results..>',
      "merge the results JSON of a run's shards (--shard I/N) into the run's results",
      (argv) =>
        argv
          .positional('results', { type: 'string', array: true, demandOption: true, describe: 'results JSON files, one per shard' })
          .option('json', { ...value, describe: 'write the merged results JSON to FILE' })
          .option('csv', { ...value, describe: 'write Locust-style PREFIX_stats.csv, PREFIX_stats_history.csv, PREFIX_failures.csv, PREFIX_exceptions.csv' })
          .option('html', { ...value, describe: 'write a self-contained HTML report to FILE' })
          .option('partial', { type: 'boolean', default: false, describe: 'merge even with shards missing (said in the output and the merged JSON)' })
          .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'only the summary' }),
      async (argv) => {
        exitCode = await mergeCommand(argv, output);
      },
    )
    .command(
      'fixture',
      'run the embedded HTTP fixture and MQTT broker standalone',
      (argv) =>
        argv
          .option('http-port', { ...value, default: '8080', describe: 'HTTP port (0 picks a free one)' })
          .option('mqtt-port', { ...value, default: '1883', describe: 'MQTT port (0 picks a free one)' })
          .option('ota-after', { ...value, default: '5000', describe: 'ms after a device subscribes to devices/<id>/ota until it gets one OTA command (0: none)' })
          .option('host', { ...value, default: '127.0.0.1' })
          .option('latency', { ...value, default: '0', describe: 'ms added to every answer' })
          .option('error-rate', { ...value, default: '0', describe: 'fraction answered 503 (0 to 1)' })
          .option('service-time', { ...value, default: '0', describe: 'serve one request at a time, each taking MS: a known capacity of 1000/MS req/s (0: off)' })
          .option('token-ttl', { ...value, default: '0', describe: 'market API: access tokens expire after this long (10s, 15m) and are then answered 401 (0: never)' }),
      async (argv) => {
        exitCode = await fixtureCommand(argv, output);
      },
    )
    .help();
  const command = args[0];
  if (command !== undefined && !command.startsWith('-') && !COMMANDS.includes(command)) {
    output.stderr(`fleetsim: unknown command '${command}' (commands: ${COMMANDS.join(', ')}; see fleetsim --help)`);
    return EXIT.usage;
  }
  // Only `run` takes over the signals held since the first line; the rest get Node's default back.
  if (command !== 'run' && command !== 'worker') releaseHeldSignals();
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
