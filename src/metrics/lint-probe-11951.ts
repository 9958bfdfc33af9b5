import { Engine } from '../engine/engine.ts';

export const made = (): unknown => Engine;
