// Durable file writes: a whole-file replace that is all-or-nothing (write a temp file, fsync, rename, fsync
// the folder) and an append that is on disk when it returns. A process killed at any moment leaves either
// the old file or the new one, never a mix.
import { link, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

let tempCounter = 0;

/** Marks temp files so a later open can recognise and remove ones a crash left behind. */
export const TEMP_MARKER = ".tmp-";

/** The temp file name used while replacing `path`: `<name>.tmp-<pid>-<n>` in the same folder. */
export function tempPathFor(path: string): string {
  tempCounter += 1;
  return join(dirname(path), `${basename(path)}${TEMP_MARKER}${process.pid}-${tempCounter}`);
}

/** fsyncs a folder so that a rename or a new file in it survives a power loss (not just a process kill). */
export async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, "r");
  try {
    await handle.sync();
  } catch (error) {
    // Some file systems refuse fsync on folders; the rename is still atomic there.
    if ((error as NodeJS.ErrnoException).code !== "EINVAL" && (error as NodeJS.ErrnoException).code !== "EISDIR") throw error;
  } finally {
    await handle.close();
  }
}

async function writeTemp(path: string, data: string): Promise<string> {
  const temp = tempPathFor(path);
  const handle = await open(temp, "wx");
  try {
    await handle.writeFile(data, "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
  return temp;
}

/**
 * Replaces `path` with `data` atomically: readers (and a process that restarts after a kill) see either
 * the previous content or the new one, whole. With `noClobber`, fails with code "EEXIST" instead of
 * replacing a file that exists (also atomically, so two writers cannot both win).
 */
export async function writeFileAtomic(path: string, data: string, options: { noClobber?: boolean } = {}): Promise<void> {
  const temp = await writeTemp(path, data);
  try {
    if (options.noClobber) {
      await link(temp, path);
      await rm(temp);
    } else {
      await rename(temp, path);
    }
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await syncFolder(dirname(path));
}

/**
 * JSON text of a value (one line, or indented with `indent`), with NaN and ±Infinity kept as the strings
 * "NaN", "Infinity", "-Infinity" instead of JSON.stringify's silent null. `what` names the value in errors.
 */
export function toJsonText(value: unknown, what: string, indent?: number): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value, (_key, item: unknown) => (typeof item === "number" && !Number.isFinite(item) ? String(item) : item), indent);
  } catch (error) {
    throw new TypeError(`${what} cannot be written as JSON: ${(error as Error).message}`);
  }
  if (text === undefined) throw new TypeError(`${what} cannot be written as JSON (it is ${typeof value})`);
  return text;
}
