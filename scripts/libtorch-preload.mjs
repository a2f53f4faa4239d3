// Makes a binary's libtorch libraries resolvable before the binary is loaded.
// A prebuilt addon cannot know where the user's libtorch lives (its runpath is neutralised when it is
// packaged, and LD_LIBRARY_PATH is read only when a process starts). So we open, by absolute path, each
// library the addon needs that lies in the chosen libtorch's lib/ folder. The dynamic linker then satisfies
// the addon's DT_NEEDED entries with these already-loaded objects (it matches them by soname), and each
// libtorch library finds its own dependencies through its own $ORIGIN runpath.
import { existsSync } from "node:fs";
import { constants } from "node:os";
import { join } from "node:path";
import { readDynamicSection } from "./elf.mjs";

// glibc's RTLD_NODELETE (not in os.constants): keeps a library mapped after Node closes its handle.
const RTLD_NODELETE = 0x1000;

/**
 * Loads into this process the libraries of `libDir` that `binaryPath` needs. Throws when one of them
 * cannot be loaded (e.g. a CUDA libtorch whose CUDA libraries are missing), with the loader's message.
 * @returns {string[]} the absolute paths that were loaded
 */
export function preloadLibtorch(binaryPath, libDir) {
  const dynamic = readDynamicSection(binaryPath);
  if (!dynamic) return []; // not ELF (macOS, Windows): those platforms resolve libraries their own way
  const loaded = [];
  for (const name of dynamic.needed) {
    const path = join(libDir, name);
    if (!existsSync(path)) continue; // a system library (libstdc++, libc, ...)
    try {
      // Node's dlopen expects an addon; a plain library loads, then Node reports it did not register.
      process.dlopen({ exports: {} }, path, constants.dlopen.RTLD_NOW | RTLD_NODELETE);
    } catch (e) {
      if (!/did not self-register/.test(e.message)) throw new Error(`cannot load ${path}: ${e.message}`);
    }
    loaded.push(path);
  }
  return loaded;
}
