import { Header, type HeaderData, Pax } from 'tar';
import { ArchiveCorruptError } from './errors.ts';
import { BLOCK_SIZE } from './tar-writer.ts';

export interface TarEntry {
  /** The path as the header (or its PAX/GNU long-name record) gives it, unnormalized. */
  path: string;
  type: string;
  /** Body size; 0 for header-only types (links, directories, devices), as Go's archive/tar treats them. */
  size: number;
  linkpath: string;
}

/** Receives one entry's body, chunk by chunk, straight from the stream's buffers. */
export interface EntrySink {
  write: (chunk: Buffer) => void;
  end: () => void;
}

export type EntryVisitor = (entry: TarEntry) => EntrySink | undefined;

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
// Extended-header records hold a path or a few fields; anything bigger is an attack on our memory.
const MAX_METADATA_BYTES = 1 << 20;
const ZERO_BLOCK = Buffer.alloc(BLOCK_SIZE);

const paddingOf = (size: number): number => (BLOCK_SIZE - (size % BLOCK_SIZE)) % BLOCK_SIZE;

/**
 * A push parser for tar headers: it sees every byte once and copies none of a body, which keeps a full
 * verification pass close to the speed of hashing the file. Handles ustar, PAX and GNU long names.
 */
export class TarWalker {
  readonly #archive: string;
  readonly #visitor: EntryVisitor;
  readonly #header = Buffer.alloc(BLOCK_SIZE);
  #headerFill = 0;
  #bodyRemaining = 0;
  #paddingRemaining = 0;
  #sink: EntrySink | undefined;
  #current = '';
  #metadata: { type: string; chunks: Buffer[] } | undefined;
  #extended: HeaderData | undefined;
  #globalExtended: HeaderData | undefined;
  #zeroBlocks = 0;
  /** Bytes of the tar stream consumed before the block being handled. */
  #offset = 0;
  entries = 0;
  /** Set by `stop()`: the caller has what it needs and drops the rest of the stream. */
  stopped = false;
  /** Two zero blocks seen: whatever follows is record padding. */
  finished = false;

  constructor(archive: string, visitor: EntryVisitor) {
    this.#archive = archive;
    this.#visitor = visitor;
  }

  stop(): void {
    this.stopped = true;
  }

  write(chunk: Buffer): void {
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
          this.#onHeader(this.#header);
          this.#offset += BLOCK_SIZE;
        }
      }
    }
  }

  /** The stream ended: a body or header cut short means the file was truncated. */
  end(): void {
    if (this.stopped || this.finished) return;
    if (this.#bodyRemaining > 0 || this.#paddingRemaining > 0 || this.#headerFill > 0 || this.#metadata) {
      const inside = this.#current ? ` inside entry ${JSON.stringify(this.#current)}` : '';
      throw new ArchiveCorruptError(
        `${this.#archive}: the tar stream ends${inside} (unexpected end of file) — the file is truncated; copy it again`,
      );
    }
    if (this.entries === 0) {
      throw new ArchiveCorruptError(`${this.#archive}: not a tar archive (no entries)`);
    }
  }

  #onHeader(block: Buffer): void {
    if (block.equals(ZERO_BLOCK)) {
      this.#zeroBlocks += 1;
      if (this.#zeroBlocks >= 2) this.finished = true;
      return;
    }
    this.#zeroBlocks = 0;
    const notTar = (cause?: unknown): ArchiveCorruptError =>
      new ArchiveCorruptError(
        `${this.#archive}: not a tar archive, or damaged: bad tar header at byte ${this.#offset}`,
        { cause },
      );
    let header: Header;
    try {
      header = new Header(block, 0, this.#extended, this.#globalExtended);
    } catch (error) {
      throw notTar(error);
    }
    if (!header.cksumValid) throw notTar();
    const type = header.type;
    const size = HEADER_ONLY_TYPES.has(type) ? 0 : (header.size ?? 0);
    this.#bodyRemaining = size;
    this.#paddingRemaining = paddingOf(size);
    if (METADATA_TYPES.has(type)) {
      if (size > MAX_METADATA_BYTES) {
        throw new ArchiveCorruptError(
          `${this.#archive}: a ${type} tar record of ${size} bytes is implausibly large`,
        );
      }
      this.#metadata = { type, chunks: [] };
      if (size === 0) this.#endBody();
      return;
    }
    this.#extended = undefined;
    this.entries += 1;
    this.#current = header.path ?? '';
    this.#sink = this.#visitor({ path: this.#current, type, size, linkpath: header.linkpath ?? '' });
    if (size === 0) this.#endBody();
  }

  #onBody(chunk: Buffer): void {
    if (this.#metadata) this.#metadata.chunks.push(Buffer.from(chunk));
    else this.#sink?.write(chunk);
  }

  #endBody(): void {
    const metadata = this.#metadata;
    if (!metadata) {
      this.#sink?.end();
      this.#sink = undefined;
      return;
    }
    this.#metadata = undefined;
    const text = Buffer.concat(metadata.chunks).toString('utf8');
    if (metadata.type === 'ExtendedHeader') this.#extended = Pax.parse(text, this.#extended, false);
    else if (metadata.type === 'GlobalExtendedHeader')
      this.#globalExtended = Pax.parse(text, this.#globalExtended, true);
    else if (metadata.type === 'NextFileHasLongLinkpath') {
      this.#extended = { ...this.#extended, linkpath: text.replace(/\0.*/s, '') };
    } else this.#extended = { ...this.#extended, path: text.replace(/\0.*/s, '') };
  }
}
