/** Whether `topic` matches the MQTT subscription `filter` (`+` one level, `#` the rest). */
export function topicMatches(filter: string, topic: string): boolean {
  if (filter === topic) return true;
  const filterLevels = filter.split('/');
  const topicLevels = topic.split('/');
  // A filter starting with a wildcard never matches $SYS-style topics (MQTT 4.7.2).
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  for (let i = 0; i < filterLevels.length; i++) {
    const level = filterLevels[i];
    if (level === '#') return true;
    if (i >= topicLevels.length) return false;
    if (level !== '+' && level !== topicLevels[i]) return false;
  }
  return filterLevels.length === topicLevels.length;
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
