/** The default floor: a run must deliver this share of its offered load for its verdict to be about the target. */
export const DEFAULT_MIN_DELIVERED = 0.95;

/**
 * `--min-delivered` and the profile's `minDelivered`: the share of the offered load a run must
 * deliver for its verdict to be about the target. `95%`, `95` or `0.95`; `off` (or `0`) turns the
 * check off. Returns the share (0..1], null for off, or undefined for text it cannot read.
 */
export function parseMinDelivered(text: string): number | null | undefined {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === 'off' || trimmed === 'none') return null;
  const match = /^(\d+(?:\.\d+)?)\s*(%?)$/.exec(trimmed);
  if (!match) return undefined;
  const value = Number(match[1]);
  // A bare number above 1 is a percentage (95); at or below 1 with no % it is a share (0.95).
  const share = match[2] === '%' || value > 1 ? value / 100 : value;
  if (!Number.isFinite(share) || share > 1) return undefined;
  return share === 0 ? null : share;
}

export const MIN_DELIVERED_HELP = "a share such as 95%, 80% or 0.9, or 'off'";
