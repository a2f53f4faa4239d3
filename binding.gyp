{
  # The node-gyp build of the same sources as CMakeLists.txt (`npx node-gyp rebuild`), CPU variant.
  # libtorch is found by the same script and in the same order as the cmake-js build.
  "targets": [
    {
      "target_name": "greater",
      "sources": ["<!@(node scripts/native-sources.mjs)"],
      "include_dirs": [
        "native",
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node scripts/find-libtorch.mjs --include)"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED", "GREATER_VARIANT=\"cpu\""],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["<!(node scripts/find-libtorch.mjs --cxx-std)", "-fexceptions", "-frtti", "-Wall", "-Wextra", "-Wno-unused-parameter",
                    "<!(node scripts/find-libtorch.mjs --cxx-flags)"],
      "libraries": [
        "-L<!(node scripts/find-libtorch.mjs --lib)",
        "-Wl,-rpath,<!(node scripts/find-libtorch.mjs --lib)",
        "-ltorch", "-ltorch_cpu", "-lc10"
      ]
    }
  ]
}
