// docs/api/ is the API reference TypeDoc generates from the TSDoc of src/ (`npm run docs`): this test generates it
// again into a temporary folder, with every export required to be documented and any warning an error, and
// compares it with the committed one, so a stale reference or an undocumented export fails.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { root } from "../support/child.js";

const out = mkdtempSync(path.join(tmpdir(), "spate-api-docs-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function files(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? files(path.join(dir, e.name), base) : [path.relative(base, path.join(dir, e.name))],
    )
    .sort();
}

describe("docs/api", () => {
  // TypeDoc type-checks the whole project: about 10 s of CPU, longer on a loaded machine.
  it("is what TypeDoc generates from the sources, with every export documented", {
    timeout: 300_000,
  }, async () => {
    const run = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [path.join(root, "node_modules/typedoc/bin/typedoc"), "--out", out, "--treatWarningsAsErrors"],
        { cwd: root },
      );
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
    expect(run.code, `TypeDoc failed (an export without TSDoc, or a broken link):\n${run.output}`).toBe(0);
    const committed = path.join(root, "docs/api");
    const stale = "docs/api is stale: run `npm run docs` and commit it";
    expect(files(out), stale).toEqual(files(committed));
    for (const f of files(out))
      expect(readFileSync(path.join(out, f), "utf8"), `${stale} (${f})`).toBe(
        readFileSync(path.join(committed, f), "utf8"),
      );
  });
});
