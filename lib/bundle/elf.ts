// Just enough of the ELF format to assemble and check a runtime: the machine, the program interpreter and the
// shared libraries a file asks for (DT_NEEDED). Reads 64-bit little-endian files, the only kind we ship.
import { open } from 'node:fs/promises';
import { AirlockError } from '../errors.ts';

/** e_machine values of the platforms we ship. */
export const ElfMachine = { x86_64: 62, aarch64: 183 } as const;

export interface ElfInfo {
  machine: number;
  /** PT_INTERP: the loader the kernel would start, e.g. `/lib64/ld-linux-x86-64.so.2`; absent in libraries. */
  interpreter?: string;
  /** DT_NEEDED sonames, in file order. */
  needed: string[];
}

const PT_INTERP = 3;
const PT_DYNAMIC = 2;
const PT_LOAD = 1;
const DT_NULL = 0n;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;

export class NotElfError extends AirlockError {
  readonly file: string;
  constructor(file: string, reason: string) {
    super('BAD_INPUT', `${file}: not a 64-bit little-endian ELF file (${reason})`);
    this.file = file;
  }
}

const cString = (buffer: Buffer, offset: number): string => {
  const end = buffer.indexOf(0, offset);
  return buffer.toString('latin1', offset, end < 0 ? buffer.length : end);
};

interface Segment {
  type: number;
  offset: number;
  vaddr: number;
  filesz: number;
}

/** Maps a virtual address (DT_STRTAB holds one) to its file offset through the PT_LOAD segments. */
const fileOffsetOf = (segments: readonly Segment[], address: number): number | undefined => {
  for (const segment of segments) {
    if (segment.type !== PT_LOAD) continue;
    if (address >= segment.vaddr && address < segment.vaddr + segment.filesz)
      return address - segment.vaddr + segment.offset;
  }
  return undefined;
};

/** Reads the headers and the dynamic section only: a 100 MB binary costs a few kilobytes of reads. */
export const readElf = async (file: string): Promise<ElfInfo> => {
  const handle = await open(file, 'r');
  try {
    const read = async (position: number, length: number): Promise<Buffer> => {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, position);
      return buffer.subarray(0, bytesRead);
    };
    const header = await read(0, 64);
    if (header.length < 64 || header.readUInt32BE(0) !== 0x7f454c46)
      throw new NotElfError(file, 'no ELF magic');
    if (header[4] !== 2 || header[5] !== 1) throw new NotElfError(file, 'not ELFCLASS64/ELFDATA2LSB');
    const machine = header.readUInt16LE(18);
    const phoff = Number(header.readBigUInt64LE(32));
    const phentsize = header.readUInt16LE(54);
    const phnum = header.readUInt16LE(56);
    const table = await read(phoff, phentsize * phnum);
    const segments: Segment[] = [];
    for (let index = 0; index < phnum; index++) {
      const at = index * phentsize;
      segments.push({
        type: table.readUInt32LE(at),
        offset: Number(table.readBigUInt64LE(at + 8)),
        vaddr: Number(table.readBigUInt64LE(at + 16)),
        filesz: Number(table.readBigUInt64LE(at + 32)),
      });
    }
    const info: ElfInfo = { machine, needed: [] };
    const interp = segments.find((segment) => segment.type === PT_INTERP);
    if (interp) info.interpreter = cString(await read(interp.offset, interp.filesz), 0);
    const dynamic = segments.find((segment) => segment.type === PT_DYNAMIC);
    if (!dynamic) return info;
    const entries = await read(dynamic.offset, dynamic.filesz);
    const neededOffsets: number[] = [];
    let strtab: number | undefined;
    for (let at = 0; at + 16 <= entries.length; at += 16) {
      const tag = entries.readBigInt64LE(at);
      const value = entries.readBigUInt64LE(at + 8);
      if (tag === DT_NULL) break;
      if (tag === DT_NEEDED) neededOffsets.push(Number(value));
      if (tag === DT_STRTAB) strtab = fileOffsetOf(segments, Number(value));
    }
    if (strtab === undefined) return info;
    for (const offset of neededOffsets) info.needed.push(cString(await read(strtab + offset, 256), 0));
    return info;
  } finally {
    await handle.close();
  }
};

/** True when the file starts with the ELF magic; shared libraries, loaders and executables all do. */
export const isElf = async (file: string): Promise<boolean> => {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(4);
    await handle.read(buffer, 0, 4, 0);
    return buffer.readUInt32BE(0) === 0x7f454c46;
  } finally {
    await handle.close();
  }
};
