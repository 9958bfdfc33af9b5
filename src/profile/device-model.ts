import path from 'node:path';
import { cumulativeWeights } from '../identity/rng.ts';
import { dataChecks } from '../template/data-checks.ts';
import { compileAuth } from './auth-spec.ts';
import { parseCapturePath } from './capture-path.ts';
import { checkedData, durationAt, EnvironmentReader } from './field-readers.ts';
import { deviceModelSchema } from './device-schema.ts';
import type { CapturesDoc, DeviceModelDoc, ReactionDoc, StepDoc, TaskDoc } from './device-schema.ts';
import { ACTION_KEYS, compileAction } from './model-actions.ts';
import { DEFAULT_ACK_TIMEOUT_MS, DEFAULT_TIMEOUT_MS, defaultTopicName, ModelScope, positiveDuration, topicAt } from './model-context.ts';
import type { CompileContext } from './model-context.ts';
import { checkPeriodic, compileIdentityScheme, compileWait } from './model-rules.ts';
import { compileMqttSession } from './model-session.ts';
import type { Capture, DeviceModel, Reaction, StepSpec, TaskSpec } from './types.ts';
import { compileSparkplug } from './sparkplug-spec.ts';
import { networkAt } from './network.ts';
import { lifecycleAt } from './lifecycle.ts';
import { YamlSource } from './yaml-source.ts';
import type { FieldPath } from './yaml-source.ts';

export { DEFAULT_ACK_TIMEOUT_MS, DEFAULT_TIMEOUT_MS } from './model-context.ts';

/** At most this many attempts in one `repeat`; a larger loop is better written as more iterations. */
const MAX_REPEAT = 100_000;

/** `{{ target.id }}` names the device a command goes to: anywhere else it would render nothing. */
const TARGET_FIELD = /\{\{[^}]*\btarget\.(?:id|index)\b/u;

function checkTargetFields(source: YamlSource, raw: unknown, at: FieldPath, inCommand: boolean): void {
  if (typeof raw === 'string') {
    if (!inCommand && TARGET_FIELD.test(raw)) throw source.error(at, "target.id and target.index name the device a command goes to: they are known only in a 'command' step");
    return;
  }
  if (Array.isArray(raw)) raw.forEach((item, i) => checkTargetFields(source, item, [...at, i], inCommand));
  else if (raw !== null && typeof raw === 'object') {
    for (const [key, value] of Object.entries(raw)) checkTargetFields(source, value, [...at, key], inCommand || key === 'command');
  }
}

/** Each distinct reply topic of the model's commands, as a subscription made on connect whose messages end commands. */
function replySubscriptions(context: CompileContext, tasks: readonly TaskSpec[]): Reaction[] {
  const seen = new Map<string, Reaction>();
  for (const task of tasks) {
    for (const step of task.steps) {
      const action = step.action;
      if (action.kind !== 'command') continue;
      const known = seen.get(action.replyTopic.source);
      // Replies on one topic are matched one way: by the same JSON path, or all by Correlation Data.
      if (known) {
        if (known.commandReplies?.correlate?.expression !== action.correlate?.expression)
          throw action.toError(`commands replying on ${action.replyTopic.source} must all correlate the same way (give each the same 'correlate', or a replyTopic of its own)`);
        continue;
      }
      const filterName = defaultTopicName(action.replyTopic.source);
      seen.set(action.replyTopic.source, {
        topic: action.replyTopic,
        qos: 1,
        captures: [],
        task: undefined,
        timeoutMs: context.ackTimeoutMs,
        filterName,
        commandReplies: { correlate: action.correlate },
      });
    }
  }
  return [...seen.values()];
}

function compileCaptures(context: CompileContext, stepPath: FieldPath, raw: CapturesDoc | undefined): Capture[] {
  if (!raw) return [];
  return Object.entries(raw).map(([variable, expression]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(variable)) {
      throw context.source.error([...stepPath, 'capture', variable], `'${variable}' is not a variable name (letters, digits, _; used as {{ vars.NAME }})`, { atKey: true });
    }
    const path = parseCapturePath(expression);
    if (!path) throw context.source.error([...stepPath, 'capture', variable], `${JSON.stringify(expression)} is not a capture path (e.g. $.access, $.items[0].id)`);
    return { variable, slot: context.scope.variable(variable), expression, path };
  });
}

function compileStep(context: CompileContext, stepPath: FieldPath, raw: StepDoc): StepSpec {
  const { action, defaultName } = compileAction(context, stepPath, raw);
  if (action.kind !== 'http' && raw.capture !== undefined) {
    const hint = action.kind === 'subscribe' ? ' (capture from messages in on:)' : '';
    throw context.source.error([...stepPath, 'capture'], `captures read HTTP responses; a ${action.kind} has none${hint}`, { atKey: true });
  }
  // A DDATA step sends one message per device of the node unless it says otherwise.
  const sparkplugDevices = action.kind === 'publish' && action.sparkplug === 'DDATA' ? context.sparkplug?.devices : undefined;
  const repeat = raw.repeat ?? sparkplugDevices ?? 1;
  if (repeat > MAX_REPEAT) throw context.source.error([...stepPath, 'repeat'], `at most ${MAX_REPEAT}`);
  return {
    name: raw.name ?? defaultName,
    action,
    repeat,
    sleepMs: durationAt(context.source, [...stepPath, 'sleep'], raw.sleep, 0),
    captures: compileCaptures(context, stepPath, raw.capture),
  };
}

/** A task is one request (`http`, optionally repeated) or a sequence of `steps`; both compile to steps. */
function compileTask(context: CompileContext, taskPath: FieldPath, raw: TaskDoc): TaskSpec {
  const weight = raw.weight ?? 1;
  const everyMs = raw.every === undefined ? undefined : positiveDuration(context, [...taskPath, 'every'], raw.every, 0);
  if (raw.steps === undefined) {
    if (ACTION_KEYS.every((key) => raw[key] === undefined)) throw context.source.error(taskPath, "a task needs one action ('http', 'publish' or 'subscribe') or 'steps'");
    const step = compileStep(context, taskPath, raw);
    return { name: step.name, weight, everyMs, steps: [step] };
  }
  for (const key of [...ACTION_KEYS, 'repeat', 'sleep', 'capture'] as const) {
    if (raw[key] !== undefined) throw context.source.error([...taskPath, key], `with 'steps', put '${key}' on a step`, { atKey: true });
  }
  if (raw.steps.length === 0) throw context.source.error([...taskPath, 'steps'], 'needs at least one step');
  const steps = raw.steps.map((step, i) => compileStep(context, [...taskPath, 'steps', i], step));
  return { name: raw.name ?? steps.map((step) => step.name).join(' + '), weight, everyMs, steps };
}

function compileReactions(context: CompileContext, raw: readonly ReactionDoc[] | undefined): Reaction[] {
  return (raw ?? []).map((reaction, i) => {
    const where = ['on', i];
    const filterName = defaultTopicName(reaction.topic);
    const task = reaction.steps === undefined ? undefined : compileTask({ ...context, inReaction: true }, where, { name: reaction.name ?? `on ${filterName}`, steps: reaction.steps });
    if (!task && reaction.capture !== undefined) throw context.source.error([...where, 'capture'], 'captures are for steps; this subscription has none', { atKey: true });
    return {
      topic: topicAt(context, [...where, 'topic'], reaction.topic, true),
      qos: reaction.qos ?? 1,
      captures: compileCaptures(context, where, reaction.capture),
      task,
      timeoutMs: context.ackTimeoutMs,
      filterName,
    };
  });
}

function usesMqtt(tasks: readonly TaskSpec[]): boolean {
  return tasks.some((task) => task.steps.some((step) => step.action.kind !== 'http'));
}

/** Every variable some step captures, in document order: templates anywhere in the model may use them. */
function capturedVariables(raw: DeviceModelDoc): string[] {
  const names = new Set<string>();
  const visitStep = (step: { readonly capture?: CapturesDoc }): void => {
    for (const name of Object.keys(step.capture ?? {})) names.add(name);
  };
  for (const task of [...(raw.boot ?? []), ...(raw.tasks ?? []), ...(raw.on ?? [])]) {
    visitStep(task);
    for (const step of task.steps ?? []) visitStep(step);
  }
  return [...names];
}

export interface DeviceModelOptions {
  /** How the file is named in messages. */
  readonly displayName?: string;
  /** A step's timeout comes from the step, else the model's `http.timeout`, else this (the profile's). */
  readonly fallbackTimeoutMs?: number;
  readonly environment?: EnvironmentReader;
}

/** Reads and compiles one device model file; every template is compiled here, once. */
export async function loadDeviceModel(file: string, options: DeviceModelOptions = {}): Promise<DeviceModel> {
  const source = await YamlSource.read(file, options.displayName ?? file);
  const raw = checkedData(source, deviceModelSchema);
  const scope = new ModelScope(capturedVariables(raw), options.environment ?? new EnvironmentReader(), path.dirname(path.resolve(file)));
  const baseContext = {
    source,
    defaults: raw.http ?? {},
    scope,
    fallbackTimeoutMs: options.fallbackTimeoutMs ?? DEFAULT_TIMEOUT_MS,
    ackTimeoutMs: durationAt(source, ['mqtt', 'ackTimeout'], raw.mqtt?.ackTimeout, DEFAULT_ACK_TIMEOUT_MS),
    version5: raw.mqtt?.version === '5' || raw.mqtt?.version === 5,
  };
  // Compiled before the tasks: their sparkplug steps read it.
  const sparkplug = raw.sparkplug && compileSparkplug(source, raw.sparkplug, scope);
  const context: CompileContext = { ...baseContext, sparkplug };
  if (context.ackTimeoutMs <= 0) throw source.error(['mqtt', 'ackTimeout'], 'must be greater than 0');
  const compileTasks = (key: 'boot' | 'tasks'): TaskSpec[] => (raw[key] ?? []).map((task, i) => compileTask(context, [key, i], task));
  const boot = compileTasks('boot');
  const tasks = compileTasks('tasks');
  checkTargetFields(source, { boot: raw.boot, tasks: raw.tasks, on: raw.on }, [], false);
  const reactions = compileReactions(context, raw.on);
  const periodic = checkPeriodic(source, tasks, raw);
  const weights = tasks.map((task) => task.weight);
  if (tasks.length === 0 && reactions.length === 0) throw source.error([], "a device needs tasks, or subscriptions under 'on' (a device that only listens)");
  if (!periodic && tasks.length > 0 && !weights.some((weight) => weight > 0)) throw source.error(['tasks'], 'at least one task needs a weight above 0');
  reactions.push(...replySubscriptions(context, [...boot, ...tasks, ...reactions.flatMap((reaction) => (reaction.task ? [reaction.task] : []))]));
  const needsSession = raw.mqtt !== undefined || sparkplug !== undefined || reactions.length > 0 || usesMqtt(boot) || usesMqtt(tasks);
  return {
    name: raw.name,
    file,
    identity: compileIdentityScheme(source, raw.identity),
    boot,
    tasks,
    cumulativeWeights: cumulativeWeights(weights),
    wait: compileWait(source, raw.wait),
    walkRanges: scope.ranges,
    variables: scope.variables,
    dataColumns: scope.dataColumns,
    dataChecks: dataChecks(scope),
    mqtt: needsSession ? compileMqttSession(context, raw.mqtt) : undefined,
    reactions,
    auth: compileAuth(source, raw.auth, boot, tasks, scope.variables),
    sparkplug,
    network: networkAt(source, ['network'], raw.network),
    lifecycle: lifecycleAt(source, raw.lifecycle),
  };
}
