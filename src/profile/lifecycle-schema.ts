import type { JsonSchema } from './schema.ts';

/** A reboot takes this long unless the profile says. */
export const DEFAULT_BOOT_MS = 5000;

const durationLike: JsonSchema = { type: ['string', 'number'], description: 'A duration: 500ms, 30s, 2m.' };
const share: JsonSchema = { type: ['string', 'number'], pattern: '^\\s*\\d+(\\.\\d+)?\\s*%\\s*$', minimum: 0, maximum: 1, description: 'A share of the fleet: 5% (or 0.05).' };

export const lifecycleSchema: JsonSchema = {
  type: 'object',
  description: "The device's lifecycle: sleep/wake duty cycles and reboots. A sleeping or rebooting device is off the network: its MQTT session is closed (a persistent one is queued for by the broker) and it starts no task.",
  properties: {
    sleep: {
      type: 'object',
      description: 'A duty cycle: awake, then asleep (disconnected), each drawn ± jitter, seeded per device.',
      properties: {
        awake: { ...durationLike, description: 'How long the device stays awake (above 0).' },
        asleep: { ...durationLike, description: 'How long it sleeps (above 0).' },
        jitter: { type: 'number', minimum: 0, maximum: 1, description: 'Each period is drawn from its length ± this fraction of it (default 0.1).' },
        start: { type: 'string', enum: ['spread', 'awake'], description: 'spread (default): each device joins its cycle at a seeded point, asleep or awake, so the fleet is spread over it; awake: every device starts at the beginning of an awake stretch, in step (a fleet powered on at once).' },
      },
      required: ['awake', 'asleep'],
      additionalProperties: false,
    },
    reboot: {
      type: 'object',
      description: 'Reboots at random: the connection drops, and after bootTime the device connects again and runs its boot tasks with the next boot count ({{ device.boots }}).',
      properties: {
        every: { ...durationLike, description: 'Mean time between reboots (exponential, seeded per device).' },
        bootTime: { ...durationLike, description: `How long a reboot keeps the device off the network (default ${DEFAULT_BOOT_MS / 1000}s).` },
      },
      required: ['every'],
      additionalProperties: false,
    },
  },
  additionalProperties: false,
};

export const fleetEventsSchema: JsonSchema = {
  type: 'array',
  description: 'Reboot waves and offline windows for shares of the fleet, at run times: - reboot: { at: 1m, share: 30%, over: 10s } or - offline: { at: 2m, share: 5%, for: 30s }.',
  items: {
    type: 'object',
    properties: {
      reboot: {
        type: 'object',
        description: 'A reboot wave (a firmware push): the chosen devices drop their connection, and after bootTime run their boot tasks again.',
        properties: { at: durationLike, share, model: { type: 'string', description: 'Only devices of this model (its name); the share is of them.' }, over: { ...durationLike, description: 'Spread the reboots evenly over this long (default 0: at once).' }, bootTime: { ...durationLike, description: `How long each reboot takes (default ${DEFAULT_BOOT_MS / 1000}s).` } },
        required: ['at', 'share'],
        additionalProperties: false,
      },
      offline: {
        type: 'object',
        description: 'An offline window (a tunnel): the chosen devices lose their network for `for`, without a DISCONNECT, then reconnect.',
        properties: { at: durationLike, share, model: { type: 'string', description: 'Only devices of this model (its name); the share is of them.' }, for: durationLike, over: { ...durationLike, description: 'Spread the starts evenly over this long (default 0).' } },
        required: ['at', 'share', 'for'],
        additionalProperties: false,
      },
    },
    additionalProperties: false,
  },
};

