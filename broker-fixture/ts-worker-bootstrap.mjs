// Loads a TypeScript worker entry when fleetsim runs from sources: worker threads do not inherit tsx's loader.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
