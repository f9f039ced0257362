import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// Tests import "spate" and so exercise only the public API; the alias points it at the sources.
export default defineConfig({
  resolve: { alias: { spate: fileURLToPath(new URL("./src/index.ts", import.meta.url)) } },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Batch failures are logged at error level; tests assert on them through the API instead.
    // Contexts in tests bind no web UI port unless a test asks for one in its conf (spate.ui.port).
    env: { SPATE_LOG_LEVEL: process.env.SPATE_LOG_LEVEL ?? "silent", SPATE_UI_PORT: "0" },
  },
});
