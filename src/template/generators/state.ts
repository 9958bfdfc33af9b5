import type { TemplateContext } from '../context.ts';
import type { Random } from '../../identity/rng.ts';
import type { SlotAllocator } from '../function-spec.ts';

/**
 * Generator state lives in the device's walk slots: plain numbers each device carries, so a
 * generator costs no object per device and its hot path creates nothing. Slot 0 of a block is
 * always the seq of the message its sample belongs to.
 */
export function allocateState(slots: SlotAllocator, initial: readonly number[]): number {
  const base = slots.allocateWalk(-1, -1);
  initial.forEach((value, i) => {
    if (slots.allocateWalk(value, value) !== base + i + 1) throw new Error('generator state slots must be consecutive');
  });
  return base;
}

/** A per-device number drawn uniformly from [0, 1) when the device is made: where it starts, which route it takes. */
export function seededUniform(slots: SlotAllocator): number {
  return slots.allocateWalk(0, 1);
}

/**
 * True when this call is the first of a new message (the device's seq moved on): the generator
 * takes its next sample. Every read within one message sees the same sample, so `lat` and `lon`
 * of one position, or a channel and what correlates with it, agree.
 */
export function newSample(context: TemplateContext, base: number): boolean {
  const walks = context.walks;
  if (walks[base] === context.seq) return false;
  walks[base] = context.seq;
  return true;
}

/** A standard normal draw (Box–Muller), from the device's stream. */
export function gaussian(random: Random): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** An exponential draw with mean `mean`: dwell times of a memoryless process. */
export function exponential(u: number, mean: number): number {
  return -mean * Math.log(1 - u);
}

/** Names a model's templates share (channels, routes), per compile scope. */
const registries = new WeakMap<SlotAllocator, Map<string, number>>();

export function sharedSlot(slots: SlotAllocator, key: string, allocate: () => number): number {
  let registry = registries.get(slots);
  if (!registry) {
    registry = new Map();
    registries.set(slots, registry);
  }
  let slot = registry.get(key);
  if (slot === undefined) {
    slot = allocate();
    registry.set(key, slot);
  }
  return slot;
}

export function lookupSlot(slots: SlotAllocator, key: string): number | undefined {
  return registries.get(slots)?.get(key);
}

export function defineSlot(slots: SlotAllocator, key: string, slot: number): void {
  let registry = registries.get(slots);
  if (!registry) {
    registry = new Map();
    registries.set(slots, registry);
  }
  registry.set(key, slot);
}
