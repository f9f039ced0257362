import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const env = { SPATE_LOG_LEVEL: process.env.SPATE_LOG_LEVEL ?? "silent", SPATE_UI_PORT: "0" };

// Tests import "spate" (and "spate/testing") and so exercise only the public API; the aliases point at the sources.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^spate\/testing$/, replacement: fileURLToPath(new URL("./src/testing.ts", import.meta.url)) },
      { find: /^spate$/, replacement: fileURLToPath(new URL("./src/index.ts", import.meta.url)) },
    ],
  },
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: "default",
          include: ["test/**/*.test.ts"],
          // Batch failures are logged at error level; tests assert on them through the API instead.
          // Contexts in tests bind no web UI port unless a test asks for one in its conf (spate.ui.port).
          env,
        },
      },
      {
        // The conformance, property, recovery and crash tests again with state in LMDB (spate.state.backend);
        // child processes inherit the variable.
        extends: true,
        test: {
          name: "lmdb",
          include: [
            "test/conformance/**/*.test.ts",
            "test/property/**/*.test.ts",
            "test/recovery/**/*.test.ts",
            "test/crash/**/*.test.ts",
          ],
          // These choose their backends themselves: once is enough.
          exclude: [
            "test/property/state-store.property.test.ts",
            "test/crash/lmdb-kill-points.test.ts",
            "test/recovery/lmdb-image.test.ts",
          ],
          env: { ...env, SPATE_STATE_BACKEND: "lmdb" },
        },
      },
    ],
  },
});
