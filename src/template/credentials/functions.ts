import type { FunctionSpec } from '../function-spec.ts';
import { AZURE_FUNCTIONS } from './azure-sas.ts';
import { ENCODING_FUNCTIONS } from './encoding.ts';
import { JWT_FUNCTIONS } from './jwt.ts';

/** Cloud device credentials: encodings, HMAC, Azure SAS tokens and JWTs, each redacted in the request log. */
export const CREDENTIAL_FUNCTIONS: readonly (readonly [string, FunctionSpec])[] = [...ENCODING_FUNCTIONS, ...AZURE_FUNCTIONS, ...JWT_FUNCTIONS];
