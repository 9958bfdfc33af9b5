import { holdSignals } from './early-signals.ts';

// Signals are held from the first line: the modules below take a while to load, and a Ctrl-C in
// that time must end the run with its reports, not silently.
holdSignals();
// ps and top show the command rather than node's own arguments.
process.title = ['fleetsim', ...process.argv.slice(2)].join(' ');
const { main } = await import('./main.ts');
await main(process.argv.slice(2));
