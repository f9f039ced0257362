// The `@example` code blocks of the TSDoc in src/, as a test runs them (Effect's way: every example in the API
// reference is a program that runs and asserts what it shows).
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { root } from "./child.js";

export interface DocExample {
  /** The file and the declaration the example documents, e.g. `src/State.ts StateSpec`. */
  name: string;
  code: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sourceFiles(path.join(dir, e.name))
      : e.name.endsWith(".ts")
        ? [path.join(dir, e.name)]
        : [],
  );
}

/** Every ```ts block after an `@example` tag in the TSDoc comments of src/, with the declaration it precedes. */
export function docExamples(): DocExample[] {
  const out: DocExample[] = [];
  for (const file of sourceFiles(path.join(root, "src"))) {
    const text = readFileSync(file, "utf8");
    for (const comment of text.matchAll(/\/\*\*([\s\S]*?)\*\/\s*\n\s*([^\n]*)/g)) {
      const body = comment[1]!
        .split("\n")
        .map((l) => l.replace(/^\s*\* ?/, ""))
        .join("\n");
      const declaration = comment[2]!.replace(/^export\s+|\s*[{(<].*$/g, "");
      for (const example of body.matchAll(/@example[^\n]*\n```ts\n([\s\S]*?)\n```/g)) {
        out.push({ name: `${path.relative(root, file)} ${declaration}`, code: example[1]! });
      }
    }
  }
  return out;
}

/** Runs an example in this process (its `"spate"` import resolves as the tests' does), after `replace`. */
export async function runExample(example: DocExample, replace: Array<[string, string]> = []): Promise<void> {
  let code = example.code;
  for (const [from, to] of replace) code = code.split(from).join(to);
  const dir = mkdtempSync(path.join(tmpdir(), "spate-doc-example-"));
  const file = path.join(dir, "example.ts");
  writeFileSync(file, code);
  await import(/* @vite-ignore */ pathToFileURL(file).href);
}
