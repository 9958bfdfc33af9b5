import path from 'node:path';
import { decode as decodeCbor, encode as encodeCbor } from 'cbor2';
import protobuf from 'protobufjs';
import type { CompiledTemplate, JsonTemplateLeaf } from '../template/compile.ts';
import { compileValueTree } from '../template/value-tree.ts';
import type { ProtobufDoc, PublishDoc } from './device-schema.ts';
import type { PayloadRenderer } from './types.ts';
import type { FieldPath, YamlSource } from './yaml-source.ts';

/** The payload keys of a publish: one of them, JSON and text beside the binary ones. */
export const PAYLOAD_KEYS = ['json', 'payload', 'protobuf', 'cbor', 'hex', 'base64'] as const;

/** The payload fields a publish, a command and a reply share. */
export type PayloadDoc = Pick<PublishDoc, (typeof PAYLOAD_KEYS)[number]>;

export interface CompiledPayload {
  readonly render: PayloadRenderer;
  /** How the request log shows it: decoded as JSON, for protobuf and CBOR. */
  readonly describe: ((payload: Buffer) => string) | undefined;
}

type LeafCompiler = (fieldPath: FieldPath, text: string) => CompiledTemplate;

const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** Bytes as JSON: 64-bit integers as numbers (or strings past 2^53), bytes as base64. */
function jsonOf(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    typeof item === 'bigint' ? (Number.isSafeInteger(Number(item)) ? Number(item) : String(item)) : item instanceof Uint8Array ? Buffer.from(item).toString('base64') : item,
  );
}

/**
 * A message of the user's `.proto` file: the file is parsed and the type resolved once, at load;
 * each publish renders the fields' templates and encodes them (protobufjs converts strings and
 * numbers to the fields' types, and refuses what it cannot).
 */
function protobufPayload(source: YamlSource, where: FieldPath, raw: ProtobufDoc, leaf: LeafCompiler): CompiledPayload {
  const file = path.resolve(path.dirname(source.file), raw.file);
  let type: protobuf.Type;
  try {
    type = protobuf.loadSync(file).lookupType(raw.type);
  } catch (error) {
    const reason = (error instanceof Error ? error.message : String(error)).replace(file, raw.file);
    throw source.error([...where, /no such type/iu.test(reason) ? 'type' : 'file'], `cannot use ${raw.file} / ${raw.type}: ${reason}`);
  }
  const fields = raw.fields ?? {};
  for (const name of Object.keys(fields)) {
    if (!type.fields[name]) throw source.error([...where, 'fields', name], `${type.fullName.slice(1)} has no field '${name}' (fields: ${Object.keys(type.fields).join(', ')})`, { atKey: true });
  }
  const render = compileValueTree(fields, (node: JsonTemplateLeaf) => leaf([...where, 'fields', ...node.path], node.text));
  return {
    render: (context) => asBuffer(type.encode(type.fromObject(render(context) as Record<string, unknown>)).finish()),
    describe: (payload) => jsonOf(type.toObject(type.decode(payload), { longs: Number, enums: String, bytes: String, defaults: false })),
  };
}

const BYTE_TEXT = { hex: /^(?:[0-9a-fA-F]{2})*$/u, base64: /^[A-Za-z0-9+/]*={0,2}$/u } as const;

/**
 * Raw bytes from a hex or base64 template. Text without templates is checked at load; a rendered
 * one is decoded as Node does (stopping at the first character that is not hex or base64).
 */
function bytesPayload(source: YamlSource, where: FieldPath, encoding: 'hex' | 'base64', text: string, leaf: LeafCompiler): CompiledPayload {
  const template = leaf(where, text);
  if (template.constant !== undefined) {
    const compact = String(template.constant).replace(/\s+/gu, '');
    if (!BYTE_TEXT[encoding].test(compact)) throw source.error(where, `not ${encoding === 'hex' ? 'hex (pairs of 0-9, a-f)' : 'base64'}`);
    const fixed = Buffer.from(compact, encoding);
    return { render: () => fixed, describe: undefined };
  }
  return { render: (context) => Buffer.from(String(template.evaluate(context)).replace(/\s+/gu, ''), encoding), describe: undefined };
}

/** The binary payload a publish declares (`protobuf`, `cbor`, `hex`, `base64`), compiled once; undefined for JSON and text. */
export function binaryPayloadAt(source: YamlSource, actionPath: FieldPath, raw: PayloadDoc, leaf: LeafCompiler): CompiledPayload | undefined {
  if (raw.protobuf !== undefined) return protobufPayload(source, [...actionPath, 'protobuf'], raw.protobuf, leaf);
  if (raw.cbor !== undefined) {
    const render = compileValueTree(raw.cbor, (node) => leaf([...actionPath, 'cbor', ...node.path], node.text));
    return { render: (context) => asBuffer(encodeCbor(render(context))), describe: (payload) => jsonOf(decodeCbor(payload)) };
  }
  if (raw.hex !== undefined) return bytesPayload(source, [...actionPath, 'hex'], 'hex', raw.hex, leaf);
  if (raw.base64 !== undefined) return bytesPayload(source, [...actionPath, 'base64'], 'base64', raw.base64, leaf);
  return undefined;
}
