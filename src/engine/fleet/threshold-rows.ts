import { closest } from '../../util/did-you-mean.ts';
import { buildRows } from '../../metrics/results.ts';
import { RunStats } from '../../metrics/stats.ts';
import { parseThreshold } from '../../profile/thresholds.ts';
import type { RunPlan } from '../../profile/types.ts';
import { bindModel } from '../device/bound-model.ts';
import { measuresDelivery } from '../mqtt/delivery.ts';

/**
 * Every selector a threshold of this plan may name: the stats rows the run can make (each step's
 * row, the rows made on first use: a model's CONNECT, its re-auth retries, DELIVER per measured
 * subscription), their type aggregates and `Aggregated`. Built the way the engine builds them.
 */
export function thresholdSelectors(plan: RunPlan): Set<string> {
  const stats = new RunStats();
  const entryFor = stats.entryFor.bind(stats);
  for (const { model } of plan.fleet) {
    const bound = bindModel(model, entryFor);
    if (model.mqtt) entryFor('CONNECT', model.name);
    if (bound.auth) for (const entry of [...stats.entries]) if (entry.type !== 'PUBLISH' && entry.type !== 'SUBSCRIBE' && entry.type !== 'CONNECT') entryFor(entry.type, `${entry.name} (re-auth)`);
  }
  if (measuresDelivery(plan)) {
    for (const entry of [...stats.entries]) if (entry.type === 'SUBSCRIBE') entryFor('DELIVER', entry.name);
    entryFor('DELIVER', '(no measured subscription)');
  }
  const rows = buildRows(stats.entries, 1);
  const selectors = new Set<string>(['Aggregated']);
  for (const row of rows.types) selectors.add(row.name).add(row.type);
  for (const row of rows.stats) selectors.add(row.name).add(`${row.type} ${row.name}`);
  return selectors;
}

/**
 * The first threshold whose selector names no row the plan can produce (a misspelt route), with
 * what is wrong: refused before the run rather than reported as failed after it.
 */
export function thresholdSelectorProblem(plan: RunPlan): { readonly index: number; readonly message: string } | undefined {
  const selectors = thresholdSelectors(plan);
  for (const [index, expr] of plan.thresholds.entries()) {
    const selector = parseThreshold(expr).selector;
    if (selector === undefined || selectors.has(selector)) continue;
    const rows = [...selectors].filter((name) => name !== 'Aggregated');
    const guess = closest(selector, rows);
    const known = rows.length > 12 ? `${rows.slice(0, 12).join(', ')}, …` : rows.join(', ');
    return { index, message: `'${expr}': no row '${selector}' in this profile's results${guess ? `: did you mean '${guess}'?` : ''} (rows: ${known}; or Aggregated)` };
  }
  return undefined;
}
