// Kubernetes' protobuf request bodies, for the kinds typed clients write with it: Helm's release storage posts
// Secrets as application/vnd.kubernetes.protobuf and client-go falls back to JSON only for CBOR. The envelope
// is "k8s\0" + runtime.Unknown{typeMeta, raw}; raw is the object in generated.proto field numbers.
import { ApiError } from './status.ts';

type FieldKind = 'string' | 'bytes' | 'int' | 'bool' | 'time' | 'stringMap' | 'bytesMap' | 'strings' | Schema;
interface Schema {
  [field: number]: [name: string, kind: FieldKind, repeated?: boolean];
}

const OWNER_REFERENCE: Schema = {
  1: ['kind', 'string'],
  3: ['name', 'string'],
  4: ['uid', 'string'],
  5: ['apiVersion', 'string'],
  6: ['controller', 'bool'],
  7: ['blockOwnerDeletion', 'bool'],
};

const OBJECT_META: Schema = {
  1: ['name', 'string'],
  2: ['generateName', 'string'],
  3: ['namespace', 'string'],
  5: ['uid', 'string'],
  6: ['resourceVersion', 'string'],
  7: ['generation', 'int'],
  8: ['creationTimestamp', 'time'],
  11: ['labels', 'stringMap'],
  12: ['annotations', 'stringMap'],
  13: ['ownerReferences', OWNER_REFERENCE, true],
  14: ['finalizers', 'strings', true],
};

const OBJECT_SCHEMAS: Record<string, Schema> = {
  Secret: {
    1: ['metadata', OBJECT_META],
    2: ['data', 'bytesMap'],
    3: ['type', 'string'],
    4: ['stringData', 'stringMap'],
    5: ['immutable', 'bool'],
  },
  DeleteOptions: {
    1: ['gracePeriodSeconds', 'int'],
    2: ['preconditions', { 1: ['uid', 'string'], 2: ['resourceVersion', 'string'] }],
    3: ['orphanDependents', 'bool'],
    4: ['propagationPolicy', 'string'],
    5: ['dryRun', 'strings', true],
  },
  ConfigMap: {
    1: ['metadata', OBJECT_META],
    2: ['data', 'stringMap'],
    3: ['binaryData', 'bytesMap'],
    4: ['immutable', 'bool'],
  },
};

class Reader {
  offset = 0;
  constructor(readonly bytes: Buffer) {}

  get done(): boolean {
    return this.offset >= this.bytes.length;
  }

  varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = this.bytes[this.offset++];
      if (byte === undefined) throw new ApiError('BadRequest', 'protobuf body: truncated varint');
      result += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return result;
      shift += 7;
    }
  }

  chunk(): Buffer {
    const length = this.varint();
    const chunk = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return chunk;
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 2) this.chunk();
    else if (wireType === 1) this.offset += 8;
    else if (wireType === 5) this.offset += 4;
    else throw new ApiError('BadRequest', `protobuf body: unsupported wire type ${wireType}`);
  }
}

const fields = function* (bytes: Buffer): Generator<{ field: number; wireType: number; reader: Reader }> {
  const reader = new Reader(bytes);
  while (!reader.done) {
    const key = reader.varint();
    yield { field: Math.floor(key / 8), wireType: key % 8, reader };
  }
};

const mapEntry = (bytes: Buffer, asBytes: boolean): [string, string] => {
  let key = '';
  let value = '';
  for (const { field, reader } of fields(bytes)) {
    const chunk = reader.chunk();
    if (field === 1) key = chunk.toString('utf8');
    else if (field === 2) value = asBytes ? chunk.toString('base64') : chunk.toString('utf8');
  }
  return [key, value];
};

const timeOf = (bytes: Buffer): string => {
  let seconds = 0;
  for (const { field, wireType, reader } of fields(bytes)) {
    if (field === 1) seconds = reader.varint();
    else reader.skip(wireType);
  }
  return `${new Date(seconds * 1000).toISOString().slice(0, 19)}Z`;
};

const decodeMessage = (bytes: Buffer, schema: Schema): Record<string, unknown> => {
  const result: Record<string, unknown> = {};
  for (const { field, wireType, reader } of fields(bytes)) {
    const entry = schema[field];
    if (!entry) {
      reader.skip(wireType);
      continue;
    }
    const [name, kind, repeated] = entry;
    let value: unknown;
    if (kind === 'int') value = reader.varint();
    else if (kind === 'bool') value = reader.varint() !== 0;
    else {
      const chunk = reader.chunk();
      if (kind === 'string' || kind === 'strings') value = chunk.toString('utf8');
      else if (kind === 'bytes') value = chunk.toString('base64');
      else if (kind === 'time') value = timeOf(chunk);
      else if (kind === 'stringMap' || kind === 'bytesMap') {
        const [key, mapValue] = mapEntry(chunk, kind === 'bytesMap');
        result[name] = { ...(result[name] as object), [key]: mapValue };
        continue;
      } else value = decodeMessage(chunk, kind);
    }
    if (repeated) result[name] = [...((result[name] as unknown[]) ?? []), value];
    else result[name] = value;
  }
  return result;
};

const MAGIC = Buffer.from('k8s\0', 'binary');

export const decodeProtobufObject = (body: Buffer): Record<string, unknown> => {
  if (!body.subarray(0, 4).equals(MAGIC)) throw new ApiError('BadRequest', 'protobuf body: no k8s envelope');
  let apiVersion = '';
  let kind = '';
  let raw: Buffer = Buffer.alloc(0);
  for (const { field, wireType, reader } of fields(body.subarray(4))) {
    if (field === 1) {
      for (const typeMeta of fields(reader.chunk())) {
        const text = typeMeta.reader.chunk().toString('utf8');
        if (typeMeta.field === 1) apiVersion = text;
        if (typeMeta.field === 2) kind = text;
      }
    } else if (field === 2) raw = reader.chunk();
    else reader.skip(wireType);
  }
  const schema = OBJECT_SCHEMAS[kind];
  if (!schema) {
    throw new ApiError(
      'UnsupportedMediaType',
      `the stand-in API server reads protobuf bodies only for ${Object.keys(OBJECT_SCHEMAS).join(', ')}, not ${kind}: send JSON`,
    );
  }
  return { apiVersion, kind, metadata: {}, ...decodeMessage(raw, schema) };
};
