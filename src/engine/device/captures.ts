import { followPath } from '../../profile/capture-path.ts';
import type { Capture } from '../../profile/types.ts';
import type { TemplateValue } from '../../template/context.ts';

/** The captured values as (slot, value) pairs, or why the document did not yield all of them. */
/** `source` names what was read in a failure: an HTTP `response`, an MQTT `message`. */
export function captureFromJson(captures: readonly Capture[], text: string, source = 'response'): [number, TemplateValue][] | string {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return `capture: the ${source} is not JSON`;
  }
  const values: [number, TemplateValue][] = [];
  for (const capture of captures) {
    const value = followPath(document, capture.path);
    if (value === undefined || value === null) return `capture ${capture.variable}: ${capture.expression} is not in the ${source}`;
    values.push([capture.slot, typeof value === 'object' ? JSON.stringify(value) : (value as TemplateValue)]);
  }
  return values;
}

/** Applies captured values; a message without all of them changes no variable. */
export function applyCaptures(captured: [number, TemplateValue][] | string, vars: TemplateValue[]): void {
  if (typeof captured === 'string') return;
  for (const [slot, value] of captured) vars[slot] = value;
}
