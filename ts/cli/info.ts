// `greater info`: what engine, libtorch and devices this installation uses.
import { engineInfo } from "../engine/info.js";

export function infoCommand(options: { json?: boolean }): number {
  const info = engineInfo();
  if (options.json) {
    console.log(JSON.stringify(info));
    return 0;
  }
  console.log(`greater engine
  libtorch:   ${info.libtorchVersion} (${info.variant} variant${info.libtorchSource ? `, built against ${info.libtorchSource}` : ""})
  binary:     ${info.binaryPath}
  CUDA:       ${info.cudaCompiled ? (info.cudaAvailable ? "compiled in, available" : "compiled in, no device") : "not compiled in"}
  devices:    ${info.devices.join(", ")}
  threads:    ${info.threads}`);
  return 0;
}
