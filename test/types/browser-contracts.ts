// The pages' scripts (src/ui/browser, src/report/browser) are typed against views declared for the
// browser, apart from the Node program; these checks, compiled by `npm run typecheck`, fail when a
// server-side type stops fitting the view its page reads (a field renamed, removed or retyped).
import type { FleetDevices, WorkerView } from '../../src/distributed/fleet-live.ts';
import type { HistoryPoint } from '../../src/metrics/history.ts';
import type { Results } from '../../src/metrics/results.ts';
import type { CapacityStepView, HtmlReportInput } from '../../src/report/html-report.ts';
import type { DevicesView, DoneMessage, IntervalMessage, TableView } from '../../src/ui/live-feed.ts';
import type * as ReportPage from '../../src/report/browser/report-data.d.ts';
import type * as LivePage from '../../src/ui/browser/live-data.d.ts';

/** Compiles only when `Server` can stand where the page expects `Page`. */
type Fits<Server extends Page, Page> = [Server, Page];

export type ReportPageContracts = [
  Fits<Results, ReportPage.ResultsView>,
  Fits<HistoryPoint, ReportPage.HistoryPointView>,
  Fits<CapacityStepView, ReportPage.CapacityStepView>,
  Fits<{ results: Results; capacity?: { steps: readonly CapacityStepView[] } }, ReportPage.ReportData>,
  Fits<HtmlReportInput['capacity'] & object, { readonly steps: readonly ReportPage.CapacityStepView[] }>,
];

export type LivePageContracts = [
  Fits<TableView, LivePage.TableView>,
  Fits<DevicesView, LivePage.DevicesView>,
  Fits<IntervalMessage, LivePage.IntervalMessage>,
  Fits<DoneMessage, LivePage.DoneMessage>,
  Fits<FleetDevices, LivePage.DevicesView>,
  Fits<WorkerView, LivePage.FleetView['workers'][number]>,
];
