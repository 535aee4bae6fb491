// containerd's own gRPC API, for the calls a `ctr` process is too dear for: each `ctr` start costs about 50 ms
// of CPU before it sends a byte. The importer asks the version and lists images on every run and labels every
// name it imports. Plain HTTP/2 and the few protobuf fields those calls need, so the importer's bundle carries no
// gRPC library; `ctr images import` still does the import.
import { type ClientHttp2Session, connect } from 'node:http2';
import { connect as connectSocket } from 'node:net';
import { AirlockError } from '../errors.ts';

const IMAGES_UPDATE = '/containerd.services.images.v1.Images/Update';
const IMAGES_LIST = '/containerd.services.images.v1.Images/List';
const VERSION = '/containerd.services.version.v1.Version/Version';
const CALL_TIMEOUT_MS = 10_000;
// gRPC status codes (google.golang.org/grpc/codes).
const GRPC_NOT_FOUND = 5;
const GRPC_UNAVAILABLE = 14;

const varint = (value: number): Buffer => {
  const bytes: number[] = [];
  let rest = value;
  while (rest > 0x7f) {
    bytes.push((rest & 0x7f) | 0x80);
    rest >>>= 7;
  }
  bytes.push(rest);
  return Buffer.from(bytes);
};

/** A length-delimited protobuf field (wire type 2): strings, messages and map entries. */
const lengthDelimited = (fieldNumber: number, payload: Buffer): Buffer =>
  Buffer.concat([varint((fieldNumber << 3) | 2), varint(payload.length), payload]);

const text = (fieldNumber: number, value: string): Buffer =>
  lengthDelimited(fieldNumber, Buffer.from(value, 'utf8'));

/**
 * UpdateImageRequest{image: Image{name, labels: {key: value}}, update_mask: FieldMask{paths: ["labels.<key>"]}}:
 * with that mask containerd changes this one label and keeps the image's target and other labels, as
 * `ctr images label` does.
 */
export const encodeLabelUpdate = (name: string, key: string, value: string): Buffer => {
  const entry = Buffer.concat([text(1, key), text(2, value)]);
  const image = Buffer.concat([text(1, name), lengthDelimited(2, entry)]);
  return Buffer.concat([lengthDelimited(1, image), lengthDelimited(2, text(1, `labels.${key}`))]);
};

/** gRPC's framing: a compression flag (0) and the message's length before its bytes. */
const frame = (message: Buffer): Buffer => {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
};

export interface ContainerdCall {
  address: string;
  /** The namespace header; empty for calls outside namespaces (the version). */
  namespace: string;
  /** What the call is about, for its errors. */
  subject: string;
  timeoutMs?: number;
}

const unreachable = (address: string, said: string, cause?: unknown): AirlockError =>
  new AirlockError(
    'RUNTIME_UNREACHABLE',
    `containerd at ${address} did not answer: ${said} — check that containerd is running on this node`,
    { cause },
  );

/** The status a gRPC server ends a call with: in the trailers, or in the headers of a trailers-only answer. */
const statusOf = (headers: Record<string, unknown>): { code: number; message: string } | undefined => {
  const code = headers['grpc-status'];
  if (code === undefined) return undefined;
  const message = decodeURIComponent(String(headers['grpc-message'] ?? ''));
  return { code: Number(code), message };
};

const toCallError = (call: ContainerdCall, status: { code: number; message: string }): AirlockError => {
  if (status.code === GRPC_UNAVAILABLE) return unreachable(call.address, status.message);
  return new AirlockError(status.code === GRPC_NOT_FOUND ? 'NOT_FOUND' : 'COMMAND_FAILED', status.message, {
    subject: call.subject,
  });
};

/** The message of a unary answer: one gRPC frame, uncompressed (we ask for no compression). */
const unframe = (body: Buffer): Buffer =>
  body.length >= 5 ? body.subarray(5, 5 + body.readUInt32BE(1)) : body;

/** One unary call on an open session; resolves with the answer's message when the server ends it with OK. */
const unary = (session: ClientHttp2Session, call: ContainerdCall, path: string, message: Buffer) =>
  new Promise<Buffer>((resolve, reject) => {
    const stream = session.request(
      {
        ':method': 'POST',
        ':path': path,
        'content-type': 'application/grpc',
        te: 'trailers',
        ...(call.namespace ? { 'containerd-namespace': call.namespace } : {}),
      },
      { signal: AbortSignal.timeout(call.timeoutMs ?? CALL_TIMEOUT_MS) },
    );
    let status: { code: number; message: string } | undefined;
    stream.on('response', (headers) => {
      status = statusOf(headers) ?? status;
    });
    stream.on('trailers', (trailers) => {
      status = statusOf(trailers) ?? status;
    });
    const body: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => body.push(chunk));
    stream.on('error', (error) => reject(unreachable(call.address, error.message, error)));
    stream.on('close', () => {
      if (!status) reject(unreachable(call.address, `the call ${path} ended without a gRPC status`));
      else if (status.code !== 0) reject(toCallError(call, status));
      else resolve(unframe(Buffer.concat(body)));
    });
    stream.end(frame(message));
  });

/** Opens one HTTP/2 connection to containerd's socket for `work`, and closes it after. */
export const withContainerd = async <T>(
  address: string,
  work: (session: ClientHttp2Session) => Promise<T>,
): Promise<T> => {
  const session = connect('http://containerd', { createConnection: () => connectSocket(address) });
  const failed = new Promise<never>((_, reject) => {
    session.once('error', (error) => reject(unreachable(address, error.message, error)));
  });
  failed.catch(() => undefined);
  try {
    return await Promise.race([work(session), failed]);
  } finally {
    session.close();
  }
};

/** Sets one label on each named image, all calls on one connection; rejects naming the first that failed. */
export const labelImages = async (
  options: { address: string; namespace: string },
  names: readonly string[],
  label: { key: string; value: string },
): Promise<void> =>
  withContainerd(options.address, async (session) => {
    const calls = names.map((name) =>
      unary(
        session,
        { ...options, subject: name },
        IMAGES_UPDATE,
        encodeLabelUpdate(name, label.key, label.value),
      ),
    );
    const results = await Promise.allSettled(calls);
    const failure = results.find((result) => result.status === 'rejected');
    if (failure) throw failure.reason;
  });

/** The length-delimited fields of a protobuf message (strings, messages), by field number; the others skipped. */
const lengthDelimitedFields = (message: Buffer): Map<number, Buffer[]> => {
  const fields = new Map<number, Buffer[]>();
  let at = 0;
  const readVarint = (): number => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = message.readUInt8(at++);
      // Past 2^53 only sizes and times could be: skipped fields, whose value is never used.
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
  };
  while (at < message.length) {
    const key = readVarint();
    const wireType = key & 7;
    if (wireType === 0) readVarint();
    else if (wireType === 1) at += 8;
    else if (wireType === 5) at += 4;
    else if (wireType === 2) {
      const length = readVarint();
      const field = Math.floor(key / 8);
      const values = fields.get(field) ?? [];
      values.push(message.subarray(at, at + length));
      fields.set(field, values);
      at += length;
    } else throw new Error(`protobuf wire type ${wireType} is not one containerd sends`);
  }
  return fields;
};

const textField = (fields: Map<number, Buffer[]>, field: number): string =>
  fields.get(field)?.at(-1)?.toString('utf8') ?? '';

/** VersionResponse{version: 1, revision: 2}: what `ctr version` prints as the server's Version. */
export const containerdVersion = (address: string, timeoutMs?: number): Promise<string> =>
  withContainerd(address, async (session) => {
    const call = { address, namespace: '', subject: `containerd at ${address}`, timeoutMs };
    const answer = await unary(session, call, VERSION, Buffer.alloc(0));
    return textField(lengthDelimitedFields(answer), 1);
  });

/** ListImagesResponse{images: 1 Image{name: 1, target: 3 Descriptor{digest: 2}}}. */
const decodeImageList = (answer: Buffer): Array<{ name: string; digest: string }> =>
  (lengthDelimitedFields(answer).get(1) ?? []).map((bytes) => {
    const image = lengthDelimitedFields(bytes);
    const target = lengthDelimitedFields(image.get(3)?.at(-1) ?? Buffer.alloc(0));
    return { name: textField(image, 1), digest: textField(target, 2) };
  });

/**
 * One ListImagesRequest{filters: 1} per batch, all on one connection. The filters are the ones `ctr images ls`
 * takes, OR'ed within a batch; containerd walks no content to answer.
 */
export const listContainerdImages = (
  options: { address: string; namespace: string },
  batches: ReadonlyArray<readonly string[]>,
): Promise<Array<{ name: string; digest: string }>> =>
  withContainerd(options.address, async (session) => {
    const call = { ...options, subject: `containerd at ${options.address}` };
    const images: Array<{ name: string; digest: string }> = [];
    for (const filters of batches) {
      const request = Buffer.concat(filters.map((filter) => text(1, filter)));
      images.push(...decodeImageList(await unary(session, call, IMAGES_LIST, request)));
    }
    return images;
  });
