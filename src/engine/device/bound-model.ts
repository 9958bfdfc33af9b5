import type { StatsEntry } from '../../metrics/stats.ts';
import type { DeviceModel, Reaction, StepSpec, TaskSpec } from '../../profile/types.ts';
import { actionType, modelTasks } from '../../profile/types.ts';
import { isPaced } from '../schedule/wait.ts';
import { AuthRole, BoundAuth } from './auth-lifecycle.ts';
import { publishExtrasPlan } from '../mqtt/publish-extras.ts';
import type { PublishExtrasPlan } from '../mqtt/publish-extras.ts';
import type { BoundSparkplug } from '../mqtt/sparkplug/node.ts';

/** A step with what the engine resolved for it once: its stats entry, and its part in a token lifecycle. */
export interface BoundStep {
  readonly spec: StepSpec;
  readonly stats: StatsEntry;
  readonly role: AuthRole;
  /** A publish with properties or a delivery header: what it sends beyond its payload, planned once. */
  readonly extras: PublishExtrasPlan | undefined;
}

export interface BoundTask {
  readonly spec: TaskSpec;
  readonly steps: readonly BoundStep[];
}

export interface BoundReaction {
  readonly reaction: Reaction;
  /** Undefined for a plain subscription: its messages are received and measured, nothing runs. */
  readonly task: BoundTask | undefined;
  /** The SUBSCRIBE made for it on every connect. */
  readonly subscribe: BoundStep;
  /** Its steps reply to the message (MQTT 5): the message's Response Topic and Correlation Data are kept for them. */
  readonly replies: boolean;
}

/** A device model with its stats entries and the facts every device of it would otherwise work out. */
export interface BoundModel {
  readonly model: DeviceModel;
  readonly boot: readonly BoundTask[];
  readonly tasks: readonly BoundTask[];
  readonly reactions: readonly BoundReaction[];
  /** Tasks have intended start times (pacing, or each task on its own period). */
  readonly paced: boolean;
  readonly periodic: boolean;
  /** The largest burst of publishes one step sends. */
  readonly maxBurst: number;
  readonly auth: BoundAuth | undefined;
  /** The edge node's birth and subscription rows, for a Sparkplug model. */
  readonly sparkplug: BoundSparkplug | undefined;
  /** The model sends commands (command steps): its devices keep a CommandSender. */
  readonly commands: boolean;
}

export function bindModel(model: DeviceModel, entryFor: (type: string, name: string) => StatsEntry): BoundModel {
  const auth = model.auth;
  // Every step of the login's (or the refresh's) name does what it does: a login task in the mix renews the credentials too.
  const roleOf = (spec: StepSpec): AuthRole =>
    spec.action.kind !== 'http' ? AuthRole.None : spec.name === auth?.login.name ? AuthRole.Login : spec.name === auth?.refresh?.name ? AuthRole.Refresh : AuthRole.None;
  const bindStep = (spec: StepSpec): BoundStep => ({ spec, stats: entryFor(actionType(spec.action), spec.name), role: roleOf(spec), extras: publishExtrasPlan(spec.action) });
  const bind = (spec: TaskSpec): BoundTask => ({ spec, steps: spec.steps.map(bindStep) });
  const reactions = model.reactions.map((reaction) => ({
    reaction,
    task: reaction.task && bind(reaction.task),
    subscribe: bindStep({
      name: reaction.filterName,
      action: { kind: 'subscribe', topic: reaction.topic, qos: reaction.qos, timeoutMs: reaction.timeoutMs },
      repeat: 1,
      sleepMs: 0,
      captures: [],
    }),
    replies: reaction.task?.steps.some((step) => step.action.kind === 'publish' && step.action.reply === true) ?? false,
  }));
  const boundAuth = auth && new BoundAuth(auth, bindStep, entryFor);
  const allSteps = modelTasks(model).flatMap((task) => task.steps);
  const maxBurst = Math.max(1, ...allSteps.map((step) => ((step.action.kind === 'publish' || step.action.kind === 'command') && step.sleepMs === 0 ? step.repeat : 1)));
  const commands = allSteps.some((step) => step.action.kind === 'command');
  const periodic = model.tasks.length > 0 && model.tasks.every((task) => task.everyMs !== undefined);
  const spec = model.sparkplug;
  const sparkplug = spec && {
    spec,
    nbirth: entryFor('PUBLISH', 'NBIRTH'),
    dbirth: entryFor('PUBLISH', 'DBIRTH'),
    commands: entryFor('SUBSCRIBE', `spBv1.0/${spec.group}/NCMD|DCMD/+`),
    state: spec.primaryHost === undefined ? undefined : entryFor('SUBSCRIBE', `spBv1.0/STATE/${spec.primaryHost}`),
  };
  return { model, boot: model.boot.map(bind), tasks: model.tasks.map(bind), reactions, paced: periodic || isPaced(model.wait), periodic, maxBurst, auth: boundAuth, sparkplug, commands };
}
