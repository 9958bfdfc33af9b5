import type { DeliveryCounts, DeliverySummary } from '../metrics/delivery.ts';

const count = (value: number): string => value.toLocaleString('en-US');

function countsText(counts: DeliveryCounts): string {
  const extra = [
    counts.duplicates > 0 ? `${count(counts.duplicates)} duplicates` : '',
    counts.outOfOrder > 0 ? `${count(counts.outOfOrder)} out of order` : '',
    counts.unacked > 0 ? `${count(counts.unacked)} received though never acked` : '',
  ]
    .filter(Boolean)
    .join(', ');
  return `expected ${count(counts.expected)}, delivered ${count(counts.delivered)}, lost ${count(counts.lost)}${extra ? `, ${extra}` : ''}`;
}

/** The lines a run with measured publishes adds to the summary; the DELIVER rows above carry the latency. */
export function deliveryLines(delivery: DeliverySummary, worst = 5): string[] {
  const total = delivery.total;
  const lines = [`Delivery: ${count(total.published)} measured publishes sent, ${count(total.acked)} acked; ${countsText(total)} (drain ${delivery.drainMs} ms, ended: ${delivery.drainEnded}).`];
  for (const subscription of delivery.subscriptions) {
    const who = subscription.shared ? `shared by ${subscription.subscribers} subscribers` : `${subscription.subscribers} subscriber${subscription.subscribers === 1 ? '' : 's'}`;
    lines.push(`  ${subscription.name} (${who}): ${countsText(subscription)}.`);
  }
  const troubled = delivery.publishers.filter((publisher) => publisher.lost + publisher.duplicates + publisher.outOfOrder > 0);
  if (troubled.length > 0) {
    troubled.sort((a, b) => b.lost - a.lost || b.duplicates - a.duplicates || a.deviceIndex - b.deviceIndex);
    const shown = troubled.slice(0, worst).map((publisher) => `${publisher.device} lost ${publisher.lost}, dup ${publisher.duplicates}, ooo ${publisher.outOfOrder}`);
    lines.push(`  ${troubled.length} publisher${troubled.length === 1 ? '' : 's'} with losses, duplicates or reordering${troubled.length > worst ? ` (worst ${worst})` : ''}: ${shown.join('; ')}.`);
  }
  lines.push('  Lost: acked publishes (QoS 0: written) on a topic the subscription matches, sent after its SUBACK, that it never received.');
  return lines;
}
