import type { TemplateContext } from '../context.ts';

export type AnomalyKind = 'spike' | 'stuck' | 'dropout' | 'drift';

/** Ground truth for one injected anomaly in one message: what was sent and what would have been. */
export interface AnomalyLabel {
  readonly channel: string;
  readonly kind: AnomalyKind;
  /** The value sent; NaN (null in JSON) for a dropout. */
  readonly value: number;
  /** The value the generator made before the anomaly changed it. */
  readonly clean: number;
}

/** Labels older than this many seqs are dropped: a run without a request log keeps none for long. */
const KEPT_SEQS = 4096;

const byDevice = new WeakMap<TemplateContext, Map<number, AnomalyLabel[]>>();

export function noteAnomaly(context: TemplateContext, label: AnomalyLabel): void {
  let labels = byDevice.get(context);
  if (!labels) {
    labels = new Map();
    byDevice.set(context, labels);
  }
  const seq = context.seq;
  for (const [older] of labels) {
    if (older > seq - KEPT_SEQS && older <= seq) break;
    labels.delete(older);
  }
  const list = labels.get(seq);
  if (list) list.push(label);
  else labels.set(seq, [label]);
}

/** The anomalies injected into the message with this seq (and forgets them), for its request-log line. */
export function takeAnomalies(context: TemplateContext, seq: number): readonly AnomalyLabel[] | undefined {
  const labels = byDevice.get(context);
  if (!labels) return undefined;
  const list = labels.get(seq);
  if (list) labels.delete(seq);
  return list;
}
