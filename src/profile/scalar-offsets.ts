/**
 * Where each character of a YAML scalar's value came from in the source, so an error found at
 * offset N of a template can point at its line and column. Quotes, escapes, line folding,
 * block indentation and CRLF make the two differ. Offsets are UTF-16 units on both sides.
 */

const isBreak = (c: string | undefined): boolean => c === '\n' || c === '\r';
const isBlank = (c: string | undefined): boolean => c === ' ' || c === '\t';

/** Index just past the line break at `at` (`\n` or `\r\n`). */
function pastBreak(text: string, at: number): number {
  return text[at] === '\r' && text[at + 1] === '\n' ? at + 2 : at + 1;
}

/**
 * Folds the line break at `at` of a flow scalar: skips the break, blank lines and the next line's
 * indentation. Returns where content resumes and how many blank lines were skipped.
 */
function foldBreak(text: string, at: number, stop: number): { next: number; blankLines: number } {
  let next = pastBreak(text, at);
  let blankLines = 0;
  for (;;) {
    while (next < stop && isBlank(text[next])) next++;
    if (next < stop && isBreak(text[next])) {
      blankLines++;
      next = pastBreak(text, next);
    } else {
      return { next, blankLines };
    }
  }
}

function flowOffsets(text: string, start: number, end: number, type: string): number[] {
  const quoted = type === 'QUOTE_DOUBLE' || type === 'QUOTE_SINGLE';
  const out: number[] = [];
  let pending: number[] = [];
  let at = quoted ? start + 1 : start;
  const stop = quoted ? end - 1 : end;
  while (at < stop) {
    const c = text[at];
    if (isBreak(c)) {
      // Trailing blanks before a break are dropped; the break becomes a space, or the blank lines newlines.
      pending = [];
      const { next, blankLines } = foldBreak(text, at, stop);
      for (let i = 0; i < Math.max(1, blankLines); i++) out.push(next);
      at = next;
      continue;
    }
    if (isBlank(c)) {
      pending.push(at++);
      continue;
    }
    out.push(...pending);
    pending = [];
    if (type === 'QUOTE_DOUBLE' && c === '\\') {
      const escape = text[at + 1];
      if (isBreak(escape)) {
        at = foldBreak(text, at + 1, stop).next;
      } else if (escape === 'x') {
        out.push(at);
        at += 4;
      } else if (escape === 'u') {
        out.push(at);
        at += 6;
      } else if (escape === 'U') {
        const codePoint = Number.parseInt(text.slice(at + 2, at + 10), 16);
        out.push(at);
        if (codePoint > 0xffff) out.push(at);
        at += 10;
      } else {
        out.push(at);
        at += 2;
      }
      continue;
    }
    if (type === 'QUOTE_SINGLE' && c === "'" && text[at + 1] === "'") {
      out.push(at);
      at += 2;
      continue;
    }
    out.push(at++);
  }
  out.push(...pending, at);
  return out;
}

interface BlockLine {
  /** Offset of the first content character (after the indentation). */
  readonly from: number;
  /** Offset of the line break (or the end). */
  readonly to: number;
  readonly blank: boolean;
}

function blockOffsets(text: string, start: number, end: number, folded: boolean): number[] {
  const lines: BlockLine[] = [];
  let at = text.indexOf('\n', start) + 1;
  if (at === 0) return [end];
  const raw: { begin: number; to: number }[] = [];
  while (at < end) {
    let to = text.indexOf('\n', at);
    if (to < 0 || to > end) to = end;
    raw.push({ begin: at, to: text[to - 1] === '\r' ? to - 1 : to });
    at = to + 1;
  }
  const firstContent = raw.find((line) => text.slice(line.begin, line.to).trim() !== '');
  let indent = 0;
  if (firstContent) while (text[firstContent.begin + indent] === ' ') indent++;
  for (const line of raw) {
    const blank = text.slice(line.begin, line.to).trim() === '';
    lines.push({ from: Math.min(line.begin + indent, line.to), to: line.to, blank });
  }
  const out: number[] = [];
  const moreIndented = (line: BlockLine): boolean => isBlank(text[line.from]);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as BlockLine;
    if (line.blank) {
      // Blank lines inside folded text were already accounted for by the preceding line's break.
      if (!folded || !lines.slice(0, i).some((before) => !before.blank)) out.push(line.to);
      continue;
    }
    for (let c = line.from; c < line.to; c++) out.push(c);
    if (!folded) {
      out.push(line.to);
      continue;
    }
    let next = i + 1;
    while (next < lines.length && (lines[next] as BlockLine).blank) next++;
    const following = lines[next];
    const blankLines = next - i - 1;
    const keepBreak = following === undefined || moreIndented(line) || moreIndented(following);
    const breaks = keepBreak ? blankLines + 1 : Math.max(1, blankLines);
    for (let b = 0; b < breaks; b++) out.push(line.to);
  }
  out.push(end);
  return out;
}

/** The source offset of every value character of the scalar at [start, end), plus one for the end. */
export function scalarValueOffsets(text: string, start: number, end: number, type: string): number[] {
  if (type === 'BLOCK_LITERAL' || type === 'BLOCK_FOLDED') return blockOffsets(text, start, end, type === 'BLOCK_FOLDED');
  return flowOffsets(text, start, end, type);
}
