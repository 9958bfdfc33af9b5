/** Errors the user can act on carry a stable `code`; the CLI prints their message alone (no stack) and exits 2. */
export class FleetsimError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'FleetsimError';
    this.code = code;
  }
}

export interface SourcePosition {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** A profile or device model that cannot run: the message names file:line:column and the field. */
export class ProfileError extends FleetsimError {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly field: string;
  constructor(position: SourcePosition, field: string, problem: string) {
    const where = position.line > 0 ? `${position.file}:${position.line}:${position.column}` : position.file;
    super('FLEETSIM_INVALID_PROFILE', `${where}: ${field ? `${field}: ` : ''}${problem}`);
    this.name = 'ProfileError';
    this.file = position.file;
    this.line = position.line;
    this.column = position.column;
    this.field = field;
  }
}

/** Bad command-line usage (unknown flag, malformed value). */
export class UsageError extends FleetsimError {
  constructor(message: string) {
    super('FLEETSIM_USAGE', message);
    this.name = 'UsageError';
  }
}

const FILE_ERRORS = new Map([
  ['ENOSPC', 'disk full'],
  ['EDQUOT', 'disk quota exceeded'],
  ['EFBIG', 'file too large (ulimit -f)'],
  ['EACCES', 'permission denied'],
  ['EPERM', 'operation not permitted'],
  ['EROFS', 'read-only file system'],
  ['ENOENT', 'no such file or directory'],
  ['ENOTDIR', 'a parent is not a directory'],
  ['EISDIR', 'is a directory'],
  ['EIO', 'input/output error'],
  ['EMFILE', 'too many open files'],
  ['ENAMETOOLONG', 'name too long'],
]);

/** Why a file operation failed, in words with its errno code (`disk full (ENOSPC)`), else its message. */
export function fileErrorReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === undefined) return (error as Error).message;
  const words = FILE_ERRORS.get(code);
  return words === undefined ? code : `${words} (${code})`;
}

export function isUserError(error: unknown): error is FleetsimError {
  return error instanceof FleetsimError;
}
