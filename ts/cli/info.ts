// `greater info`: what engine, libtorch and devices this installation uses.
import { engineInfo } from "../engine/info.js";

export function infoCommand(options: { json?: boolean }): number {
  const info = engineInfo();
  if (options.json) {
    console.log(JSON.stringify(info));
    return 0;
  }
  console.log(`greater engine
  libtorch:   ${info.libtorchVersion} (${info.variant} variant${info.libtorchSource ? `, from ${info.libtorchSource}` : ""})
  at:         ${info.libtorchRoot ?? "(the binary's own runpath)"}
  binary:     ${info.binaryPath}
  chosen:     ${info.binaryOrigin}
  CUDA:       ${info.cudaCompiled ? (info.cudaAvailable ? "compiled in, available" : "compiled in, no device") : "not compiled in"}
  devices:    ${info.devices.join(", ")}
  threads:    ${info.threads}`);
  // The loader's reasoning, so a surprising choice explains itself.
  const passedOver = info.candidates.filter((c) => c.path !== info.binaryPath);
  if (passedOver.length > 0) {
    console.log("  passed over:");
    for (const c of passedOver) console.log(`    ${c.origin}: ${c.outcome}`);
  }
  return 0;
}
