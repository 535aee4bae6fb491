import { Header, type HeaderData, Pax } from 'tar';
import { normalizeEntryPath } from './entries.ts';
import { ArchiveCorruptError } from './errors.ts';
import { BLOCK_SIZE } from './tar-writer.ts';

export interface TarEntry {
  /** The path as the header (or its PAX/GNU long-name record) gives it, unnormalized. */
  path: string;
  type: string;
  /** Body size; 0 for header-only types (links, directories, devices), as Go's archive/tar treats them. */
  size: number;
  linkpath: string;
  /** Where the body starts in the tar stream: with an uncompressed archive, in the file itself. */
  offset: number;
}

/** Receives one entry's body, chunk by chunk, straight from the stream's buffers. */
export interface EntrySink {
  write: (chunk: Buffer) => void;
  end: () => void;
}

export type EntryVisitor = (entry: TarEntry) => EntrySink | undefined;

export interface TarWalkerOptions {
  /**
   * Entries (by normalized path) whose raw bytes `write` does not hand back, with the extended-header records
   * before them: the caller re-emits them once it has checked them. The end-of-archive blocks are never handed back.
   */
  holdBack?: (path: string, type: string) => boolean;
}

const HEADER_ONLY_TYPES = new Set([
  'Link',
  'SymbolicLink',
  'CharacterDevice',
  'BlockDevice',
  'Directory',
  'FIFO',
]);
const METADATA_TYPES = new Set([
  'ExtendedHeader',
  'GlobalExtendedHeader',
  'NextFileHasLongPath',
  'OldGnuLongPath',
  'NextFileHasLongLinkpath',
]);

/**
 * Limits that keep memory flat on any input. An image archive has a few entries per layer, and every name it
 * needs (`blobs/sha512/<128 hex>`, `<64 hex>/layer.tar`) is far below 256 bytes.
 */
export const TAR_LIMITS = {
  entries: 10_000,
  nameBytes: 256,
  /** One extended-header record: a long name and a few fields. */
  metadataRecordBytes: 64 * 1024,
  /** Every extended-header record of the archive together. */
  metadataTotalBytes: 1024 * 1024,
} as const;

const ZERO_BLOCK = Buffer.alloc(BLOCK_SIZE);
const USTAR_MAGIC = Buffer.from('ustar');

const paddingOf = (size: number): number => (BLOCK_SIZE - (size % BLOCK_SIZE)) % BLOCK_SIZE;

/** A ustar header's prefix field (bytes 345-499), which Go ignores when a PAX path is present and node-tar may not. */
const hasUstarPrefix = (block: Buffer): boolean =>
  block.subarray(257, 262).equals(USTAR_MAGIC) && block[345] !== 0;

/** Appends `part` to `out`, merging it into the previous part when both are adjacent views of one buffer. */
const appendPart = (out: Buffer[], part: Buffer): void => {
  if (part.length === 0) return;
  const last = out.at(-1);
  if (last && last.buffer === part.buffer && last.byteOffset + last.length === part.byteOffset) {
    out[out.length - 1] = Buffer.from(last.buffer, last.byteOffset, last.length + part.length);
    return;
  }
  out.push(part);
};

/**
 * A push parser for tar headers: it sees every byte once and copies none of a body, which keeps a full
 * verification pass close to the speed of hashing the file. Handles ustar, PAX and GNU long names, and refuses
 * what Go's archive/tar (containerd, Docker) and node-tar would read differently: global or stacked extended
 * headers, a PAX path beside a ustar prefix, the same path twice. `write` returns the bytes to pass on to a
 * runtime: everything but the held-back entries and the end-of-archive blocks.
 */
export class TarWalker {
  readonly #archive: string;
  readonly #visitor: EntryVisitor;
  readonly #holdBack: ((path: string, type: string) => boolean) | undefined;
  readonly #header = Buffer.alloc(BLOCK_SIZE);
  readonly #seen = new Set<string>();
  #headerFill = 0;
  #bodyRemaining = 0;
  #paddingRemaining = 0;
  #passing = false;
  #sink: EntrySink | undefined;
  #current = '';
  #metadata: { type: string; chunks: Buffer[]; raw: Buffer[] } | undefined;
  /** The raw extended-header records read since the last entry: passed on or dropped with it. */
  #pendingRaw: Buffer[] = [];
  #extended: HeaderData | undefined;
  #metadataBytes = 0;
  #zeroBlocks = 0;
  /** Bytes of the tar stream consumed before the block being handled. */
  #offset = 0;
  #out: Buffer[] = [];
  entries = 0;
  /** Set by `stop()`: the caller has what it needs and drops the rest of the stream. */
  stopped = false;
  /** Two zero blocks seen: whatever follows is record padding. */
  finished = false;

  constructor(archive: string, visitor: EntryVisitor, options: TarWalkerOptions = {}) {
    this.#archive = archive;
    this.#visitor = visitor;
    this.#holdBack = options.holdBack;
  }

  stop(): void {
    this.stopped = true;
  }

  /** Parses `chunk`; returns the parts of it a runtime may see now (views of `chunk`, not copies). */
  write(chunk: Buffer): Buffer[] {
    this.#out = [];
    let position = 0;
    while (position < chunk.length && !this.stopped && !this.finished) {
      const available = chunk.length - position;
      if (this.#bodyRemaining > 0) {
        const take = Math.min(this.#bodyRemaining, available);
        this.#onBody(chunk.subarray(position, position + take));
        position += take;
        this.#offset += take;
        this.#bodyRemaining -= take;
        if (this.#bodyRemaining === 0) this.#endBody();
      } else if (this.#paddingRemaining > 0) {
        const take = Math.min(this.#paddingRemaining, available);
        if (this.#passing) appendPart(this.#out, chunk.subarray(position, position + take));
        position += take;
        this.#offset += take;
        this.#paddingRemaining -= take;
      } else if (this.#headerFill === 0 && available >= BLOCK_SIZE) {
        this.#onHeader(chunk.subarray(position, position + BLOCK_SIZE));
        position += BLOCK_SIZE;
        this.#offset += BLOCK_SIZE;
      } else {
        const take = Math.min(BLOCK_SIZE - this.#headerFill, available);
        chunk.copy(this.#header, this.#headerFill, position, position + take);
        this.#headerFill += take;
        position += take;
        if (this.#headerFill === BLOCK_SIZE) {
          this.#headerFill = 0;
          this.#onHeader(Buffer.from(this.#header));
          this.#offset += BLOCK_SIZE;
        }
      }
    }
    return this.#out;
  }

  /**
   * Steps over the rest of the current body and its padding when no sink reads it and they lie within the
   * `available` bytes, so a reader of a plain file can seek past a layer instead of reading it; a body cut short is
   * left to `write` and `end` to find. Returns the bytes stepped over (0: read them). Those bytes are never handed
   * back by `write`: only for callers that do not pass the stream on.
   */
  skipBody(available: number): number {
    if (this.#bodyRemaining === 0 || this.#sink || this.#metadata) return 0;
    const skipped = this.#bodyRemaining + this.#paddingRemaining;
    if (skipped > available) return 0;
    this.#offset += skipped;
    this.#bodyRemaining = 0;
    this.#paddingRemaining = 0;
    this.#endBody();
    return skipped;
  }

  /** The stream ended: a body or header cut short means the file was truncated. */
  end(): void {
    if (this.stopped || this.finished) return;
    if (this.#bodyRemaining > 0 || this.#paddingRemaining > 0 || this.#headerFill > 0 || this.#metadata) {
      const inside = this.#current ? ` inside entry ${JSON.stringify(this.#current)}` : '';
      throw new ArchiveCorruptError(
        `the tar stream ends${inside} (unexpected end of file) — the file is truncated; copy it again`,
        { subject: this.#archive },
      );
    }
    if (this.entries === 0) {
      throw new ArchiveCorruptError(`not a tar archive (no entries)`, { subject: this.#archive });
    }
  }

  #refuse(why: string): never {
    throw new ArchiveCorruptError(
      `${why} — Go's archive/tar (containerd, Docker) and the checker could read it differently; refusing the archive`,
      { subject: this.#archive },
    );
  }

  #onHeader(block: Buffer): void {
    if (block.equals(ZERO_BLOCK)) {
      this.#zeroBlocks += 1;
      if (this.#zeroBlocks >= 2) this.finished = true;
      return;
    }
    if (this.#zeroBlocks > 0)
      this.#refuse(`a tar header follows a lone end-of-archive block at byte ${this.#offset}`);
    const header = this.#parseHeader(block);
    const type = header.type;
    const size = HEADER_ONLY_TYPES.has(type) ? 0 : (header.size ?? 0);
    this.#bodyRemaining = size;
    this.#paddingRemaining = paddingOf(size);
    if (METADATA_TYPES.has(type)) {
      this.#startMetadata(type, size, block);
      return;
    }
    const path = header.path ?? '';
    // node-tar's Header applies a PAX linkpath, then overwrites it with the 100-byte ustar field (its Parser
    // applies the record again on the entry); the record wins here as in Go's archive/tar.
    const linkpath = this.#extended?.linkpath ?? header.linkpath ?? '';
    if (this.#extended?.path !== undefined && hasUstarPrefix(block))
      this.#refuse(
        `tar entry ${JSON.stringify(path.slice(0, 200))} has both a long-name record and a ustar prefix`,
      );
    if (Buffer.byteLength(path) > TAR_LIMITS.nameBytes || Buffer.byteLength(linkpath) > TAR_LIMITS.nameBytes)
      this.#refuse(
        `a tar entry name is longer than ${TAR_LIMITS.nameBytes} bytes (${JSON.stringify(path.slice(0, 80))}…)`,
      );
    this.entries += 1;
    if (this.entries > TAR_LIMITS.entries) this.#refuse(`more than ${TAR_LIMITS.entries} tar entries`);
    this.#extended = undefined;
    this.#current = path;
    const name = normalizeEntryPath(path);
    if (type !== 'Directory') {
      if (this.#seen.has(name)) this.#refuse(`the tar entry ${JSON.stringify(name)} appears twice`);
      this.#seen.add(name);
    }
    this.#passing = !this.#holdBack?.(name, type);
    const pending = this.#pendingRaw;
    this.#pendingRaw = [];
    if (this.#passing) {
      for (const part of pending) appendPart(this.#out, part);
      appendPart(this.#out, block);
    }
    this.#sink = this.#visitor({ path, type, size, linkpath, offset: this.#offset + BLOCK_SIZE });
    if (size === 0) this.#endBody();
  }

  #parseHeader(block: Buffer): Header {
    const notTar = (cause?: unknown): ArchiveCorruptError =>
      new ArchiveCorruptError(`not a tar archive, or damaged: bad tar header at byte ${this.#offset}`, {
        subject: this.#archive,
        cause,
      });
    let header: Header;
    try {
      header = new Header(block, 0, this.#extended);
    } catch (error) {
      throw notTar(error);
    }
    if (!header.cksumValid) throw notTar();
    return header;
  }

  #startMetadata(type: string, size: number, block: Buffer): void {
    // Go applies a global header to every later entry, node-tar to none of them; archives we import never need one.
    if (type === 'GlobalExtendedHeader') this.#refuse(`a global PAX header at byte ${this.#offset}`);
    // Go keeps only the last of two records in a row, node-tar merges them.
    if (this.#extended !== undefined || this.#pendingRaw.length > 0)
      this.#refuse(`two extended-header records in a row at byte ${this.#offset}`);
    if (size > TAR_LIMITS.metadataRecordBytes)
      this.#refuse(
        `a ${type} tar record of ${size} bytes (over ${TAR_LIMITS.metadataRecordBytes}) at byte ${this.#offset}`,
      );
    this.#metadataBytes += size;
    if (this.#metadataBytes > TAR_LIMITS.metadataTotalBytes)
      this.#refuse(`over ${TAR_LIMITS.metadataTotalBytes} bytes of extended-header records`);
    this.#passing = false;
    this.#metadata = { type, chunks: [], raw: [Buffer.from(block)] };
    if (size === 0) this.#endBody();
  }

  #onBody(chunk: Buffer): void {
    if (this.#metadata) this.#metadata.chunks.push(Buffer.from(chunk));
    else {
      if (this.#passing) appendPart(this.#out, chunk);
      this.#sink?.write(chunk);
    }
  }

  #endBody(): void {
    const metadata = this.#metadata;
    if (!metadata) {
      this.#sink?.end();
      this.#sink = undefined;
      return;
    }
    this.#metadata = undefined;
    const body = Buffer.concat(metadata.chunks);
    this.#pendingRaw = [...metadata.raw, body, Buffer.alloc(paddingOf(body.length))];
    const text = body.toString('utf8');
    if (metadata.type === 'ExtendedHeader') this.#extended = Pax.parse(text, undefined, false);
    else if (metadata.type === 'NextFileHasLongLinkpath') {
      this.#extended = { linkpath: text.replace(/\0.*/s, '') };
    } else this.#extended = { path: text.replace(/\0.*/s, '') };
  }
}
