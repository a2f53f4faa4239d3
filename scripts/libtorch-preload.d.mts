// Types of libtorch-preload.mjs for the TypeScript loader (ts/engine/binding.ts).

/** Loads the libraries of libDir that binaryPath needs; returns their paths. Throws when one fails to load. */
export function preloadLibtorch(binaryPath: string, libDir: string): string[];
