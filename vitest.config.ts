import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The Python side of the tests gets a virtual environment of its own (test/setup/python.ts).
    globalSetup: ["test/setup/python.ts", "test/setup/redis.ts", "test/setup/chromium.ts"],
    // Model tests are CPU-heavy on a 2-core machine: run files one at a time, with room for slow steps.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 300_000,
    reporters: ["default"],
  },
});
