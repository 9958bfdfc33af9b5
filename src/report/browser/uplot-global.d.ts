import type UPlot from 'uplot';

// uPlot's IIFE build, inlined into the page before the page's own script, defines the global
// `uPlot`; the pages call it as that global, and name a drawn chart by the same name.
declare global {
  const uPlot: typeof UPlot;
  type uPlot = UPlot;
}
