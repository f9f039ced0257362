import * as path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The folder of spate's own code (`src/` when run from source, `dist/` when built): frames in it, in
 * node_modules and in Node's internals are not the user's.
 */
const OWN_DIR = (() => {
  const here = fileURLToPath(import.meta.url);
  for (const dir of ["src", "dist"]) {
    const i = here.lastIndexOf(`${path.sep}${dir}${path.sep}`);
    if (i >= 0) return here.slice(0, i + dir.length + 2);
  }
  return `${path.dirname(here)}${path.sep}`;
})();
const NODE_MODULES = `${path.sep}node_modules${path.sep}`;
const FRAME = /\(?((?:file:\/\/)?[^\s()]+?):(\d+):\d+\)?$/;

/**
 * Where the user's code called into spate (Spark's callSite): `file:line` of the first stack frame outside spate's
 * own sources and node_modules, relative to the working directory when under it. Called once per operator when the
 * graph is built, never per record; the stack is read as Node formats it, so source maps (tsx, vitest) apply.
 */
export function userCallSite(): string | undefined {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 64;
  const holder: { stack?: string } = {};
  try {
    Error.captureStackTrace(holder, userCallSite);
  } finally {
    Error.stackTraceLimit = limit;
  }
  const lines = typeof holder.stack === "string" ? holder.stack.split("\n") : [];
  for (let i = 1; i < lines.length; i++) {
    const m = FRAME.exec(lines[i]!.trim());
    if (!m) continue;
    let file = m[1]!;
    if (file.startsWith("file://")) {
      try {
        file = fileURLToPath(file);
      } catch {
        continue;
      }
    }
    if (!path.isAbsolute(file) || file.startsWith(OWN_DIR) || file.includes(NODE_MODULES)) continue;
    const cwd = process.cwd();
    const shown = file.startsWith(cwd + path.sep) ? path.relative(cwd, file) : file;
    return `${shown.split(path.sep).join("/")}:${m[2]}`;
  }
  return undefined;
}
