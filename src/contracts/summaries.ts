/** One edge node's life as its results show it. */
export interface SparkplugNodeCounts {
  readonly group: string;
  readonly node: string;
  /** NBIRTHs sent: the first on each session, and every rebirth. */
  births: number;
  /** NBIRTHs after the first on the same session: asked by NCMD, or the primary host coming back. */
  rebirths: number;
  /** NCMD Node Control/Rebirth requests received. */
  rebirthRequests: number;
  /** NDEATHs: the will the broker sends when a session that had a birth is lost, and the NDEATH sent before a clean end. */
  deaths: number;
  /** Numbered messages (births, data) that did not go out: the next one reaches a host out of order. */
  outOfOrderSeq: number;
  /** The bdSeq of the last session's NDEATH will. */
  bdSeq: number;
}

export interface SparkplugSummary {
  readonly nodes: readonly Readonly<SparkplugNodeCounts>[];
  readonly total: { readonly nodes: number; readonly births: number; readonly rebirths: number; readonly rebirthRequests: number; readonly deaths: number; readonly outOfOrderSeq: number };
}

/** One COMMAND row's round trips: every command ended as replied, timed out or failed; a timed-out one was answered late or is lost. */
export interface CommandCounts {
  readonly name: string;
  /** Commands that ended (in flight at the drain's end: abandoned, not here). */
  readonly commands: number;
  /** Replies in time: the row's successes. */
  readonly replied: number;
  readonly timeouts: number;
  /** Timed-out commands whose reply came after all: counted, never a success. */
  readonly late: number;
  /** Timed-out commands with no reply by the run's end. */
  readonly lost: number;
  /** Commands whose PUBLISH failed (refused, not connected, connection lost): no round trip to wait for. */
  readonly failed: number;
}

export interface CommandSummary {
  readonly rows: readonly CommandCounts[];
  readonly total: CommandCounts;
  /** Replies that answered no command waiting for one: duplicates, unknown ids, or replies to another sender. */
  readonly unmatchedReplies: number;
}

/** How often one (type, name) failed for one reason. */
export interface FailureCount {
  readonly type: string;
  readonly name: string;
  readonly error: string;
  readonly count: number;
}
