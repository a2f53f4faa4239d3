// Reads (and, for packaging, edits) the dynamic section of a 64-bit little-endian ELF shared object:
// which libraries it needs (DT_NEEDED) and where it looks for them (DT_RUNPATH / DT_RPATH).
// The loader uses the needed list to preload the user's libtorch; packaging uses the runpath edit so a
// prebuilt binary never reaches for a folder of the machine that built it.
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const DT_NULL = 0n;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;
const DT_SONAME = 14n;
const DT_RPATH = 15n;
const DT_RUNPATH = 29n;

/**
 * Parses an ELF file's dynamic section. Returns null for anything that is not a 64-bit little-endian ELF
 * (another platform's binary format): callers then simply skip what needs ELF.
 * @returns {{ arch: string, needed: string[], soname?: string, runpath?: { tag: "RUNPATH" | "RPATH", value: string, fileOffset: number } } | null}
 */
export function readDynamicSection(path) {
  const elf = parseElf(readFileSync(path));
  if (!elf) return null;
  const { arch, needed, soname, runpath } = elf;
  return { arch, needed, soname, runpath };
}

// e_machine values, named as Node names architectures (process.arch).
const MACHINES = { 62: "x64", 183: "arm64" };

/**
 * Overwrites the runpath string in place with `replacement` (padded with NUL bytes; it must not be longer
 * than the original). The string table keeps its size, so nothing else in the file moves.
 * @returns {string | undefined} the previous runpath, or undefined when the file has none
 */
export function replaceRunpath(path, replacement) {
  const elf = parseElf(readFileSync(path));
  if (!elf) throw new Error(`${path}: not a 64-bit little-endian ELF file`);
  if (!elf.runpath) return undefined;
  const { value, fileOffset } = elf.runpath;
  const bytes = Buffer.from(replacement, "utf8");
  if (bytes.length > Buffer.byteLength(value, "utf8")) {
    throw new Error(`${path}: the new runpath "${replacement}" is longer than the present one "${value}"`);
  }
  const padded = Buffer.alloc(Buffer.byteLength(value, "utf8")); // zero-filled: the tail becomes NULs
  bytes.copy(padded);
  const fd = openSync(path, "r+");
  try {
    writeSync(fd, padded, 0, padded.length, fileOffset);
  } finally {
    closeSync(fd);
  }
  return value;
}

function parseElf(buf) {
  const isElf = buf.length > 64 && buf[0] === 0x7f && buf[1] === 0x45 && buf[2] === 0x4c && buf[3] === 0x46;
  if (!isElf || buf[4] !== 2 /* ELFCLASS64 */ || buf[5] !== 1 /* ELFDATA2LSB */) return null;
  const machine = buf.readUInt16LE(0x12);
  const arch = MACHINES[machine] ?? `e_machine ${machine}`;
  const phoff = Number(buf.readBigUInt64LE(0x20));
  const phentsize = buf.readUInt16LE(0x36);
  const phnum = buf.readUInt16LE(0x38);
  const segments = [];
  let dynamic;
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    const segment = {
      type: buf.readUInt32LE(at),
      offset: Number(buf.readBigUInt64LE(at + 0x08)),
      vaddr: Number(buf.readBigUInt64LE(at + 0x10)),
      filesz: Number(buf.readBigUInt64LE(at + 0x20)),
    };
    if (segment.type === PT_LOAD) segments.push(segment);
    if (segment.type === PT_DYNAMIC) dynamic = segment;
  }
  if (!dynamic) return { arch, needed: [] }; // statically linked: needs nothing

  // Dynamic entries are (tag, value) pairs of 8 bytes each, up to DT_NULL.
  const entries = [];
  for (let at = dynamic.offset; at + 16 <= dynamic.offset + dynamic.filesz; at += 16) {
    const tag = buf.readBigInt64LE(at);
    if (tag === DT_NULL) break;
    entries.push({ tag, value: Number(buf.readBigUInt64LE(at + 8)) });
  }
  const strtabAddress = entries.find((e) => e.tag === DT_STRTAB)?.value;
  if (strtabAddress === undefined) throw new Error("ELF dynamic section without a string table (DT_STRTAB)");
  // DT_STRTAB holds a virtual address: map it to a file offset through the loadable segment holding it.
  const holder = segments.find((s) => strtabAddress >= s.vaddr && strtabAddress < s.vaddr + s.filesz);
  if (!holder) throw new Error("ELF string table lies outside every loadable segment");
  const strtab = strtabAddress - holder.vaddr + holder.offset;
  const stringAt = (index) => {
    const start = strtab + index;
    const end = buf.indexOf(0, start);
    return { value: buf.toString("utf8", start, end), fileOffset: start };
  };

  const needed = entries.filter((e) => e.tag === DT_NEEDED).map((e) => stringAt(e.value).value);
  const sonameEntry = entries.find((e) => e.tag === DT_SONAME);
  // The dynamic linker ignores DT_RPATH when DT_RUNPATH exists, so RUNPATH is the one that counts.
  const runpathEntry = entries.find((e) => e.tag === DT_RUNPATH) ?? entries.find((e) => e.tag === DT_RPATH);
  return {
    arch,
    needed,
    soname: sonameEntry ? stringAt(sonameEntry.value).value : undefined,
    runpath: runpathEntry ? { tag: runpathEntry.tag === DT_RUNPATH ? "RUNPATH" : "RPATH", ...stringAt(runpathEntry.value) } : undefined,
  };
}
