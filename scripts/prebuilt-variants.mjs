// The prebuilt binaries this release ships, one platform package each (packages/<dir>/). A binary works
// only with the exact libtorch it was built against, so each entry names that libtorch.
//
// How each reaches a user (docs/install.md, "Prebuilt binaries"):
// - "optional-dependency": listed in package.json's optionalDependencies; npm installs it on a matching
//   os/cpu. Used for the CPU variants, which everyone on that platform can use.
// - "install-time": npm's os/cpu fields cannot tell a CUDA machine from a CPU one, so listing the CUDA
//   variant there would make every CPU user download it. The install script fetches it (with `npm pack`,
//   through the user's own npm configuration) only when the libtorch it finds is the CUDA one it needs.
// test/packaging/variants.test.ts keeps this table, package.json and packages/*/package.json in agreement.

/**
 * @typedef {{ package: string, dir: string, platform: string, arch: string, variant: "cpu" | "cuda",
 *   libtorchVersion: string, cudaVersion: string | null, delivery: "optional-dependency" | "install-time",
 *   pipInstall: string }} PrebuiltVariant
 * @type {PrebuiltVariant[]}
 */
export const PREBUILT_VARIANTS = [
  {
    package: "@greater/linux-x64-cpu-torch2.13",
    dir: "linux-x64-cpu-torch2.13",
    platform: "linux",
    arch: "x64",
    variant: "cpu",
    libtorchVersion: "2.13.0",
    cudaVersion: null,
    delivery: "optional-dependency",
    // How to get this libtorch without touching anything else: the CPU wheel of the PyTorch index.
    pipInstall: "python3 -m pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu",
  },
  {
    package: "@greater/linux-x64-cuda-torch2.14",
    dir: "linux-x64-cuda-torch2.14",
    platform: "linux",
    arch: "x64",
    variant: "cuda",
    libtorchVersion: "2.14.1",
    cudaVersion: "13.0",
    delivery: "install-time",
    pipInstall: "python3 -m pip install torch==2.14.1 --index-url https://download.pytorch.org/whl/cu130",
  },
];

/** The variants built for this machine's platform and architecture. */
export function variantsForThisPlatform(platform = process.platform, arch = process.arch) {
  return PREBUILT_VARIANTS.filter((v) => v.platform === platform && v.arch === arch);
}
