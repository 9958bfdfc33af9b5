import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { NETWORK_PRESETS } from './network-presets.ts';
import { textOrNumber } from './schema-kit.ts';

const RATE_PATTERN = '^\\s*\\d+(\\.\\d+)?\\s*(bit|kbit|mbit|gbit)(/s|ps)?\\s*$';

const rate = (description: string) => textOrNumber({ pattern: RATE_PATTERN, minimum: 1, description });
const durationLike = (description = 'A duration: 50ms, 1s, 2m.') => textOrNumber({ description });

/** A link of its own: a preset to start from and the fields that change it. */
const networkLink = Type.Object(
  {
    preset: Type.Optional(Type.Unsafe<string>({ type: 'string', enum: Object.keys(NETWORK_PRESETS), description: 'The preset this link starts from.' })),
    latency: Type.Optional(durationLike('Added one-way delay, each way (a round trip adds twice this).')),
    jitter: Type.Optional(durationLike("Each chunk's delay is drawn, seeded per device, from latency ± jitter; a stream is never reordered.")),
    uplink: Type.Optional(rate('Device-to-target bandwidth cap (10kbit, 375kbit/s).')),
    downlink: Type.Optional(rate('Target-to-device bandwidth cap.')),
    drops: Type.Optional(
      Type.Object(
        {
          every: Type.Optional(durationLike('Mean time between drops of a connection (exponential, seeded per device).')),
          at: Type.Optional(Type.Array(durationLike(), { minItems: 1, description: 'Run times at which every connection of the device is dropped: [30s, 2m].' })),
        },
        { description: 'Connection drops: each connection is reset, on average every `every` (seeded), or at the run times in `at`.', additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export type NetworkLinkDoc = Static<typeof networkLink>;

const NETWORK_DESCRIPTION = `The device's simulated network link, applied to its own sockets: a preset (${Object.keys(NETWORK_PRESETS).join(', ')}), a mix across the devices ("70% lte-m, 30% nb-iot"), or a link of its own (a preset to start from and fields that change it).`;

/** `network:` in a device model or a fleet entry: a preset, a mix of presets, or a link of its own. */
export function networkSchema(description = NETWORK_DESCRIPTION) {
  // One node that is text or an object (its properties apply to the object), as the published schema always had it.
  return Type.Unsafe<string | NetworkLinkDoc>({ ...networkLink, type: ['string', 'object'], description });
}

export { NETWORK_DESCRIPTION };
