// The committed lock file, as a fresh clone meets it: `npm ci` accepts it without a warning, and `npm install`
// leaves it as it is. Checked on copies of package.json and package-lock.json in a temporary folder (`npm ci
// --dry-run` and `npm install --package-lock-only` resolve the whole tree and install nothing).
import { spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { root } from "./support/child.js";

const dir = mkdtempSync(path.join(tmpdir(), "spate-lockfile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function npm(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("npm", [...args, "--ignore-scripts", "--no-audit", "--no-fund"], { cwd: dir });
    let output = "";
    child.stdout.on("data", (d) => {
      output += String(d);
    });
    child.stderr.on("data", (d) => {
      output += String(d);
    });
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, output }));
  });
}

describe("package-lock.json", () => {
  for (const name of ["package.json", "package-lock.json"])
    copyFileSync(path.join(root, name), path.join(dir, name));
  const committed = readFileSync(path.join(root, "package-lock.json"), "utf8");

  it("npm ci accepts it, with no warning (EBADENGINE or other)", { timeout: 120_000 }, async () => {
    const ci = await npm(["ci", "--dry-run"]);
    expect(ci.code, ci.output).toBe(0);
    expect(ci.output).not.toMatch(/npm (warn|error)/i);
  });

  it("npm install does not rewrite it", { timeout: 120_000 }, async () => {
    const install = await npm(["install", "--package-lock-only"]);
    expect(install.code, install.output).toBe(0);
    expect(readFileSync(path.join(dir, "package-lock.json"), "utf8")).toBe(committed);
  });
});
