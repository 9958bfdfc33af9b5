import type { SparkplugNodeCounts, SparkplugSummary } from '../contracts/summaries.ts';
export type { SparkplugNodeCounts, SparkplugSummary } from '../contracts/summaries.ts';

/** Every edge node of the run, for the results' `sparkplug` section. */
export class SparkplugTally {
  private readonly nodes = new Map<string, SparkplugNodeCounts>();

  /** The node's counts; a node started again (the load shape brought its device back) goes on counting in the same. */
  add(group: string, node: string): SparkplugNodeCounts {
    const key = `${group}/${node}`;
    let counts = this.nodes.get(key);
    if (!counts) this.nodes.set(key, (counts = { group, node, births: 0, rebirths: 0, rebirthRequests: 0, deaths: 0, outOfOrderSeq: 0, bdSeq: 0 }));
    return counts;
  }

  summary(): SparkplugSummary {
    return summarizeNodes([...this.nodes.values()]);
  }
}

export function summarizeNodes(nodes: readonly Readonly<SparkplugNodeCounts>[]): SparkplugSummary {
  const sorted = [...nodes].sort((a, b) => (a.group === b.group ? a.node.localeCompare(b.node) : a.group.localeCompare(b.group)));
  const sum = (key: 'births' | 'rebirths' | 'rebirthRequests' | 'deaths' | 'outOfOrderSeq'): number => sorted.reduce((total, node) => total + node[key], 0);
  return {
    nodes: sorted.map((node) => ({ ...node })),
    total: { nodes: sorted.length, births: sum('births'), rebirths: sum('rebirths'), rebirthRequests: sum('rebirthRequests'), deaths: sum('deaths'), outOfOrderSeq: sum('outOfOrderSeq') },
  };
}
