import { didYouMean } from '../util/did-you-mean.ts';
import { parseCapturePath } from './capture-path.ts';
import { durationAt } from './field-readers.ts';
import type { AuthDoc } from './device-schema.ts';
import type { AuthSpec, TaskSpec, TokenExpiry } from './types.ts';
import type { YamlSource } from './yaml-source.ts';

const EXPIRY_KEYS = ['expiresIn', 'jwt', 'ttl'] as const;

/** The HTTP step named `name` in the boot tasks or the tasks, in document order. */
function namedStep(source: YamlSource, field: string, name: string, tasks: readonly TaskSpec[]): AuthSpec['login'] {
  const steps = tasks.flatMap((task) => task.steps);
  const step = steps.find((candidate) => candidate.name === name);
  if (!step) {
    const names = [...new Set(steps.filter((candidate) => candidate.action.kind === 'http').map((candidate) => candidate.name))];
    throw source.error(['auth', field], `no step is named '${name}'${didYouMean(name, names) || ` (HTTP steps: ${names.join(', ') || 'none'})`}`);
  }
  if (step.action.kind !== 'http') throw source.error(['auth', field], `step '${name}' is a ${step.action.kind}; ${field} must be an HTTP step`);
  if (step.captures.length === 0) throw source.error(['auth', field], `step '${name}' captures nothing: its captures (capture: { access: $.access }) are the device's credentials`);
  return step;
}

function compileExpiry(source: YamlSource, raw: AuthDoc, variables: readonly string[]): TokenExpiry | undefined {
  const [first = '', second] = EXPIRY_KEYS.filter((key) => raw[key] !== undefined);
  if (second !== undefined) throw source.error(['auth', second], `give one of ${EXPIRY_KEYS.join(', ')}, not both '${first}' and '${second}'`, { atKey: true });
  if (raw.expiresIn !== undefined) {
    const expression = raw.expiresIn;
    const path = parseCapturePath(expression);
    if (!path) throw source.error(['auth', 'expiresIn'], `'${expression}' is not a path into the response ($.expires_in, $.token.ttl)`);
    return { kind: 'response', expression, path };
  }
  if (raw.jwt !== undefined) {
    const variable = raw.jwt;
    const slot = variables.indexOf(variable);
    if (slot < 0) throw source.error(['auth', 'jwt'], `no step captures '${variable}'${didYouMean(variable, variables) || ` (captured: ${variables.join(', ') || 'nothing'})`}`);
    const at = source.positionOf(['auth', 'jwt']);
    return { kind: 'jwt', variable, slot, where: `${at.file}:${at.line}:${at.column}` };
  }
  if (raw.ttl !== undefined) {
    const ms = durationAt(source, ['auth', 'ttl'], raw.ttl, 0);
    if (ms <= 0) throw source.error(['auth', 'ttl'], 'must be greater than 0');
    return { kind: 'fixed', ms };
  }
  return undefined;
}

/**
 * `auth`: which step logs in (its captures are the credentials), which one renews them, and how
 * the device learns when they expire. Errors point at the `auth` field they are about.
 */
export function compileAuth(source: YamlSource, raw: AuthDoc | undefined, boot: readonly TaskSpec[], tasks: readonly TaskSpec[], variables: readonly string[]): AuthSpec | undefined {
  if (!raw) return undefined;
  const all = [...boot, ...tasks];
  const login = namedStep(source, 'login', raw.login, all);
  const refresh = raw.refresh === undefined ? undefined : namedStep(source, 'refresh', raw.refresh, all);
  if (refresh && refresh.name === login.name) throw source.error(['auth', 'refresh'], 'must name another step than login');
  const expiry = compileExpiry(source, raw, variables);
  if (refresh && !expiry)
    throw source.error(['auth', 'refresh'], `a refresh needs to know when the token expires: add expiresIn ($.expires_in), jwt (a captured token's exp claim) or ttl (10m)`, { atKey: true });
  const refreshBeforeMs = durationAt(source, ['auth', 'refreshBefore'], raw.refreshBefore);
  if (refreshBeforeMs !== undefined && !expiry) throw source.error(['auth', 'refreshBefore'], 'needs expiresIn, jwt or ttl: the time before expiry to renew at', { atKey: true });
  if (refreshBeforeMs !== undefined && expiry?.kind === 'fixed' && refreshBeforeMs >= expiry.ms) throw source.error(['auth', 'refreshBefore'], `must be shorter than ttl (${expiry.ms} ms)`);
  return { login, refresh, expiry, refreshBeforeMs };
}
