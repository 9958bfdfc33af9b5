import type { PageState } from './live-data.d.ts';

// What the live page's script keeps on `window`: its state, for the browser tests.
declare global {
  interface Window {
    __ui: PageState;
  }
}
