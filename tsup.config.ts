import { defineConfig } from "tsup";

export default defineConfig({
  entry: { index: "src/index.ts", testing: "src/testing.ts", "cli/main": "src/cli/main.ts" },
  // spate/testing's contract checks run on fast-check, bundled so that they work without it installed (it is a
  // devDependency: a user's own fast-check, of any version, never meets this copy).
  noExternal: ["fast-check"],
  format: ["esm"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node20",
});
