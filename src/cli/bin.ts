import { holdSignals } from './early-signals.ts';

// Signals are held from the first line: the modules below take a while to load, and a Ctrl-C in
// that time must end the run with its reports, not silently.
holdSignals();
const { main } = await import('./main.ts');
await main(process.argv.slice(2));
