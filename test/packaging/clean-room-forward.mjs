// Run inside the clean room (copied there by clean-room.test.ts): the installed package, imported by its
// name, does a forward pass of a tiny model and compares it with the transformers reference.
// Usage: node clean-room-forward.mjs MODEL_DIR  →  prints {"checksum", "maxAbsDifference", "tolerance", "binaryOrigin"}
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { engineInfo, loadModel, matmulChecksum } from "greater/engine";

const modelDir = process.argv[2];
const reference = JSON.parse(readFileSync(join(modelDir, "reference.json"), "utf8")).logits.left;
const model = await loadModel(modelDir, { device: "cpu", dtype: "float32" });
try {
  // [batch, width] left-padded ids → the full log-softmax at each row's last real token.
  const out = await model.logits({ inputIds: reference.inputIds, attentionMask: reference.attentionMask }, { positions: "last", full: true });
  let maxAbsDifference = 0;
  reference.logProbs.forEach((rows, b) => {
    const expected = rows[rows.length - 1];
    expected.forEach((value, v) => { maxAbsDifference = Math.max(maxAbsDifference, Math.abs(out.logProbs[b][v] - value)); });
  });
  console.log(JSON.stringify({
    checksum: await matmulChecksum(8, 3),
    maxAbsDifference,
    tolerance: 1e-4 * reference.maxAbsLogit,
    binaryOrigin: engineInfo().binaryOrigin,
  }));
} finally {
  model.dispose();
}
