/** Sparkplug B topic namespace (Sparkplug 3.0, 4.1): spBv1.0/group/TYPE/node[/device], and the host's STATE. */
export interface SparkplugTopics {
  readonly nbirth: string;
  readonly ndata: string;
  readonly ndeath: string;
  readonly ncmd: string;
  /** Every device's DCMD, as one filter. */
  readonly dcmd: string;
  readonly dbirth: readonly string[];
  readonly ddata: readonly string[];
  readonly state: string | undefined;
}

export const NAMESPACE = 'spBv1.0';

export function sparkplugTopics(group: string, node: string, devices: readonly string[], primaryHost: string | undefined): SparkplugTopics {
  const base = `${NAMESPACE}/${group}`;
  return {
    nbirth: `${base}/NBIRTH/${node}`,
    ndata: `${base}/NDATA/${node}`,
    ndeath: `${base}/NDEATH/${node}`,
    ncmd: `${base}/NCMD/${node}`,
    dcmd: `${base}/DCMD/${node}/+`,
    dbirth: devices.map((device) => `${base}/DBIRTH/${node}/${device}`),
    ddata: devices.map((device) => `${base}/DDATA/${node}/${device}`),
    state: primaryHost === undefined ? undefined : `${NAMESPACE}/STATE/${primaryHost}`,
  };
}

/** A host's STATE payload (3.0: JSON `{"online": bool, "timestamp": ms}`); undefined when it is not one. */
export function stateOnline(payload: Buffer): boolean | undefined {
  try {
    const parsed = JSON.parse(payload.toString('utf8')) as unknown;
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as { online?: unknown }).online === 'boolean') return (parsed as { online: boolean }).online;
  } catch {
    // 2.2 hosts send the bare words.
  }
  const text = payload.toString('utf8');
  return text === 'ONLINE' ? true : text === 'OFFLINE' ? false : undefined;
}

/** Ids may not hold the topic's separators or wildcards (Sparkplug 3.0, 4.1.1). */
export function validSparkplugId(id: string): boolean {
  return id.length > 0 && !/[+#/]/u.test(id);
}
