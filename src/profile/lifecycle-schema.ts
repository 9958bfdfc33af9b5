import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { oneOf, textOrNumber } from './schema-kit.ts';

/** A reboot takes this long unless the profile says. */
export const DEFAULT_BOOT_MS = 5000;

const durationLike = (description = 'A duration: 500ms, 30s, 2m.') => textOrNumber({ description });
const share = textOrNumber({ pattern: '^\\s*\\d+(\\.\\d+)?\\s*%\\s*$', minimum: 0, maximum: 1, description: 'A share of the fleet: 5% (or 0.05).' });
const modelName = () => Type.Optional(Type.String({ description: 'Only devices of this model (its name); the share is of them.' }));

export const lifecycleSchema = Type.Object(
  {
    sleep: Type.Optional(
      Type.Object(
        {
          awake: durationLike('How long the device stays awake (above 0).'),
          asleep: durationLike('How long it sleeps (above 0).'),
          jitter: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'Each period is drawn from its length ± this fraction of it (default 0.1).' })),
          start: Type.Optional(
            oneOf(['spread', 'awake'], {
              description:
                'spread (default): each device joins its cycle at a seeded point, asleep or awake, so the fleet is spread over it; awake: every device starts at the beginning of an awake stretch, in step (a fleet powered on at once).',
            }),
          ),
        },
        { description: 'A duty cycle: awake, then asleep (disconnected), each drawn ± jitter, seeded per device.', additionalProperties: false },
      ),
    ),
    reboot: Type.Optional(
      Type.Object(
        {
          every: durationLike('Mean time between reboots (exponential, seeded per device).'),
          bootTime: Type.Optional(durationLike(`How long a reboot keeps the device off the network (default ${DEFAULT_BOOT_MS / 1000}s).`)),
        },
        {
          description: 'Reboots at random: the connection drops, and after bootTime the device connects again and runs its boot tasks with the next boot count ({{ device.boots }}).',
          additionalProperties: false,
        },
      ),
    ),
  },
  {
    description:
      "The device's lifecycle: sleep/wake duty cycles and reboots. A sleeping or rebooting device is off the network: its MQTT session is closed (a persistent one is queued for by the broker) and it starts no task.",
    additionalProperties: false,
  },
);

const rebootWave = Type.Object(
  {
    at: durationLike(),
    share,
    model: modelName(),
    over: Type.Optional(durationLike('Spread the reboots evenly over this long (default 0: at once).')),
    bootTime: Type.Optional(durationLike(`How long each reboot takes (default ${DEFAULT_BOOT_MS / 1000}s).`)),
  },
  { description: 'A reboot wave (a firmware push): the chosen devices drop their connection, and after bootTime run their boot tasks again.', additionalProperties: false },
);

const offlineWindow = Type.Object(
  {
    at: durationLike(),
    share,
    model: modelName(),
    for: durationLike(),
    over: Type.Optional(durationLike('Spread the starts evenly over this long (default 0).')),
  },
  { description: 'An offline window (a tunnel): the chosen devices lose their network for `for`, without a DISCONNECT, then reconnect.', additionalProperties: false },
);

const fleetEvent = Type.Object({ reboot: Type.Optional(rebootWave), offline: Type.Optional(offlineWindow) }, { additionalProperties: false });

export const fleetEventsSchema = Type.Array(fleetEvent, {
  description: 'Reboot waves and offline windows for shares of the fleet, at run times: - reboot: { at: 1m, share: 30%, over: 10s } or - offline: { at: 2m, share: 5%, for: 30s }.',
});

export type LifecycleDoc = Static<typeof lifecycleSchema>;
export type FleetEventDoc = Static<typeof fleetEvent>;
