// A node whose architecture has no exported runtime still runs the hook's command: the loader path of its own
// platform, in a host image that holds no shell. Nothing of ours could say why, and the container would not even
// start ("no such file or directory" in its status, nothing in its log). So for every supported platform the export
// leaves out, the exporter writes a static program of a few hundred bytes at that loader's place: it prints one line
// naming the platforms the export holds and exits 1, before any import.
import { ElfMachine } from './elf.ts';
import type { RuntimePlatform } from './platforms.ts';

const BASE_ADDRESS = 0x400000n;
const ELF_HEADER_BYTES = 64;
const PROGRAM_HEADER_BYTES = 56;
const CODE_OFFSET = ELF_HEADER_BYTES + PROGRAM_HEADER_BYTES;

/** The line the program prints, as the importer prints its own errors. */
export const absentRuntimeMessage = (
  platform: RuntimePlatform,
  exported: readonly RuntimePlatform[],
): string =>
  `error: this node is ${platform.oci} and the images directory holds the importer runtime for ` +
  `${exported.map((entry) => entry.oci).join(', ') || 'no platform'} only — export again with ` +
  `--platform ${platform.oci} added and copy the images directory to this node again\n`;

const u32 = (value: number): Buffer => {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(value);
  return bytes;
};

// write(1, message, length); exit(1). The message's address is taken relative to the code, so the program does
// not depend on where the kernel maps it.
const x86_64Code = (length: number): Buffer => {
  const code = [
    Buffer.from([0xb8, 1, 0, 0, 0]), // mov eax, 1 (write)
    Buffer.from([0xbf, 1, 0, 0, 0]), // mov edi, 1 (stdout)
    Buffer.from([0x48, 0x8d, 0x35]), // lea rsi, [rip + message]
    u32(19), //                         from the end of lea (offset 17) to the message (offset 36)
    Buffer.from([0xba]), //              mov edx, length
    u32(length),
    Buffer.from([0x0f, 0x05]), //        syscall
    Buffer.from([0xb8, 60, 0, 0, 0]), // mov eax, 60 (exit)
    Buffer.from([0xbf, 1, 0, 0, 0]), // mov edi, 1
    Buffer.from([0x0f, 0x05]), //        syscall
  ];
  return Buffer.concat(code);
};

const aarch64Code = (length: number): Buffer =>
  Buffer.concat(
    [
      0xd2800020, // mov x0, #1 (stdout)
      0x10000001 | (7 << 5), // adr x1, message (28 bytes ahead: immhi 7, immlo 0)
      0xd2800002 | (length << 5), // mov x2, #length
      0xd2800808, // mov x8, #64 (write)
      0xd4000001, // svc #0
      0xd2800020, // mov x0, #1
      0xd2800ba8, // mov x8, #93 (exit)
      0xd4000001, // svc #0
    ].map((word) => u32(word >>> 0)),
  );

const elfHeader = (machine: number, fileBytes: number): Buffer => {
  const header = Buffer.alloc(CODE_OFFSET);
  header.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0], 0); // ELF, 64-bit, little-endian, version 1, System V
  header.writeUInt16LE(2, 16); // ET_EXEC
  header.writeUInt16LE(machine, 18);
  header.writeUInt32LE(1, 20); // EV_CURRENT
  header.writeBigUInt64LE(BASE_ADDRESS + BigInt(CODE_OFFSET), 24); // entry
  header.writeBigUInt64LE(BigInt(ELF_HEADER_BYTES), 32); // program headers right after this header
  header.writeUInt16LE(ELF_HEADER_BYTES, 52);
  header.writeUInt16LE(PROGRAM_HEADER_BYTES, 54);
  header.writeUInt16LE(1, 56); // one program header
  header.writeUInt16LE(64, 58); // section header entry size; there are none
  // PT_LOAD of the whole file, readable and executable.
  const program = ELF_HEADER_BYTES;
  header.writeUInt32LE(1, program);
  header.writeUInt32LE(5, program + 4); // PF_R | PF_X
  header.writeBigUInt64LE(0n, program + 8);
  header.writeBigUInt64LE(BASE_ADDRESS, program + 16);
  header.writeBigUInt64LE(BASE_ADDRESS, program + 24);
  header.writeBigUInt64LE(BigInt(fileBytes), program + 32);
  header.writeBigUInt64LE(BigInt(fileBytes), program + 40);
  header.writeBigUInt64LE(0x1000n, program + 48);
  return header;
};

/** The static program written at `lib/<loader>` of a platform the export leaves out. */
export const absentRuntimeProgram = (
  platform: RuntimePlatform,
  exported: readonly RuntimePlatform[],
): Buffer => {
  const message = Buffer.from(absentRuntimeMessage(platform, exported));
  const code =
    platform.machine === ElfMachine.aarch64 ? aarch64Code(message.length) : x86_64Code(message.length);
  const body = Buffer.concat([code, message]);
  return Buffer.concat([elfHeader(platform.machine, CODE_OFFSET + body.length), body]);
};
