/** A subscription filter compiled once: whether a topic matches it. */
export type TopicMatcher = (topic: string) => boolean;

const DOLLAR = 0x24;

/**
 * Compiles the MQTT subscription `filter` (`+` one level, `#` the rest) into a matcher. The filter is
 * split once; a topic is walked level by level in place, never split, as every received message is matched.
 */
export function compileFilter(filter: string): TopicMatcher {
  const levels = filter.split('/');
  if (!levels.includes('+') && !levels.includes('#')) return (topic) => topic === filter;
  // A filter starting with a wildcard never matches $SYS-style topics (MQTT 4.7.2).
  const wildFirst = levels[0] === '+' || levels[0] === '#';
  return (topic) => {
    if (wildFirst && topic.charCodeAt(0) === DOLLAR) return false;
    let start = 0;
    for (const level of levels) {
      if (level === '#') return true;
      // Past the topic's last level: the filter has more than the topic.
      if (start > topic.length) return false;
      let end = topic.indexOf('/', start);
      if (end < 0) end = topic.length;
      if (level !== '+' && (end - start !== level.length || !topic.startsWith(level, start))) return false;
      start = end + 1;
    }
    return start === topic.length + 1;
  };
}

const SHARED = /^\$share\/[^/]+\//u;

/** The filter a subscription matches topics with: `$share/GROUP/f` matches as `f` (MQTT 5 4.8.2). */
export function matchingFilter(filter: string): string {
  return filter.startsWith('$share/') ? filter.replace(SHARED, '') : filter;
}

/** The shared subscription's group, or undefined for an ordinary one. */
export function sharedGroup(filter: string): string | undefined {
  return SHARED.test(filter) ? filter.split('/')[1] : undefined;
}
