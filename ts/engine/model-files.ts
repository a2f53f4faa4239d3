// Where the files of a model folder really are, once links are resolved, and whether they lie under the folders a
// caller allows. A model folder may hold links (a Hugging Face hub cache snapshot is made of links into ../../blobs),
// so a service that confines models to some folders must check the files' real paths, not the folder's name.
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { join, relative, isAbsolute } from "node:path";
import { EngineError } from "./types.js";

/** The files loading reads, present in `folder`: config, generation config, weights (single or the index's shards). */
export function modelFileNames(folder: string): string[] {
  const names = ["config.json", "generation_config.json"].filter((name) => existsSync(join(folder, name)));
  const index = join(folder, "model.safetensors.index.json");
  if (existsSync(index)) {
    names.push("model.safetensors.index.json");
    try {
      const weightMap = (JSON.parse(readFileSync(index, "utf8")) as { weight_map?: Record<string, unknown> }).weight_map ?? {};
      for (const shard of new Set(Object.values(weightMap))) if (typeof shard === "string") names.push(shard);
    } catch {
      // The engine names a malformed index; here it only has no shards to list.
    }
  } else if (existsSync(join(folder, "model.safetensors"))) names.push("model.safetensors");
  return names;
}

/** File name -> real path (links resolved) for the model files of `folder`. */
export function realModelFiles(folder: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of modelFileNames(folder)) {
    try {
      files[name] = realpathSync(join(folder, name));
    } catch {
      // A dangling link or a loop: the engine refuses it with the reason when it opens the file.
    }
  }
  return files;
}

function isInside(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

/**
 * Throws EngineError code "OUTSIDE_ALLOWED_ROOTS" when the folder or any of its model files really lies outside
 * every one of `roots` (each resolved too), naming the file and where it leads.
 */
export function checkAllowedRoots(folder: string, files: Record<string, string>, roots: string[]): void {
  const realRoots = roots.map((root) => {
    try {
      return realpathSync(root);
    } catch {
      throw new EngineError(`loadModel: allowed root ${root} does not exist`, "OUTSIDE_ALLOWED_ROOTS");
    }
  });
  const inside = (path: string) => realRoots.some((root) => isInside(path, root));
  const realFolder = realpathSync(folder);
  if (!inside(realFolder)) {
    throw new EngineError(`loadModel: ${folder} (really ${realFolder}) is outside the allowed folders (${roots.join(", ")})`, "OUTSIDE_ALLOWED_ROOTS");
  }
  for (const [name, real] of Object.entries(files)) {
    if (!inside(real)) {
      throw new EngineError(`loadModel: ${join(folder, name)} leads to ${real}, outside the allowed folders (${roots.join(", ")})`, "OUTSIDE_ALLOWED_ROOTS");
    }
  }
}
