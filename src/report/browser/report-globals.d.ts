import type { DrawnChart } from './report-data.d.ts';

// What the report's page script leaves on `window`: the charts it drew, for the browser tests.
declare global {
  interface Window {
    __charts: DrawnChart[];
  }
}
