import type { JsonSchema } from './schema.ts';
import { NETWORK_PRESETS } from './network-presets.ts';

const RATE_PATTERN = '^\\s*\\d+(\\.\\d+)?\\s*(bit|kbit|mbit|gbit)(/s|ps)?\\s*$';

const rate: JsonSchema = {
  type: ['string', 'number'],
  pattern: RATE_PATTERN,
  minimum: 1,
  description: 'A bandwidth cap: bits per second as a number, or 10kbit, 375kbit/s, 1.6mbit.',
};

const durationLike: JsonSchema = { type: ['string', 'number'], description: 'A duration: 50ms, 1s, 2m.' };

/** `network:` in a device model or a fleet entry: a preset, a mix of presets, or a link of its own. */
export const networkSchema: JsonSchema = {
  type: ['string', 'object'],
  description: `The device's simulated network link, applied to its own sockets: a preset (${Object.keys(NETWORK_PRESETS).join(', ')}), a mix across the devices ("70% lte-m, 30% nb-iot"), or a link of its own (a preset to start from and fields that change it).`,
  properties: {
    preset: { type: 'string', enum: Object.keys(NETWORK_PRESETS), description: 'The preset this link starts from.' },
    latency: { ...durationLike, description: 'Added one-way delay, each way (a round trip adds twice this).' },
    jitter: { ...durationLike, description: 'Each chunk\'s delay is drawn, seeded per device, from latency ± jitter; a stream is never reordered.' },
    uplink: { ...rate, description: 'Device-to-target bandwidth cap (10kbit, 375kbit/s).' },
    downlink: { ...rate, description: 'Target-to-device bandwidth cap.' },
    drops: {
      type: 'object',
      description: 'Connection drops: each connection is reset, on average every `every` (seeded), or at the run times in `at`.',
      properties: {
        every: { ...durationLike, description: 'Mean time between drops of a connection (exponential, seeded per device).' },
        at: { type: 'array', items: durationLike, minItems: 1, description: 'Run times at which every connection of the device is dropped: [30s, 2m].' },
      },
      additionalProperties: false,
    },
  },
  additionalProperties: false,
};

