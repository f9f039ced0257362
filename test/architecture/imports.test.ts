// The import graph of src/ runs one way (ARCHITECTURE.md, "The concerns"): the engine's lower layers never see the
// API (operators get an OperatorEnv and graph nodes, never the StreamingContext or a DStream), every module imports
// only its own layer or those below it, and no modules import each other in a cycle. The imports are read with the
// TypeScript compiler's parser, which tells `import type` (erased) from imports that load a module.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { root } from "../support/child.js";

const SRC = path.join(root, "src");

interface Import {
  /** The module imported, relative to src/ (`rdd/RDD.ts`). */
  readonly to: string;
  /** `import type` / `export type`: erased, it loads nothing. */
  readonly typeOnly: boolean;
  /** `import("…")`: loaded when it runs, not when the importing module loads. */
  readonly dynamic: boolean;
}

/** The relative imports of one source text (`import`, `export … from`, `import()`), resolved against `from`. */
function importsOf(from: string, text: string): Import[] {
  const sf = ts.createSourceFile(from, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const out: Import[] = [];
  const add = (specifier: string, typeOnly: boolean, dynamic: boolean) => {
    if (!specifier.startsWith(".")) return; // a package or a node: built-in
    out.push({ to: resolve(from, specifier), typeOnly, dynamic });
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      // Only `import type` is erased: with verbatimModuleSyntax, `import { type A }` still loads the module.
      add(node.moduleSpecifier.text, node.importClause?.isTypeOnly === true, false);
    } else if (
      ts.isExportDeclaration(node) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      add(node.moduleSpecifier.text, node.isTypeOnly, false);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      add(node.arguments[0].text, false, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** `../rdd/RDD.js` imported from `dstream/MappedOp.ts` is `rdd/RDD.ts`. */
function resolve(from: string, specifier: string): string {
  const target = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier));
  const ts = target.replace(/\.js$/, ".ts");
  if (existsSync(path.join(SRC, ts))) return ts;
  if (existsSync(path.join(SRC, target, "index.ts"))) return `${target}/index.ts`;
  return ts;
}

function sourceFiles(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : [path.join(dir, e.name)]))
    .filter((f) => f.endsWith(".ts"));
}

/** Every module of src/, relative to it (`rdd/RDD.ts`). */
const modules = sourceFiles()
  .map((f) => path.relative(SRC, f).split(path.sep).join("/"))
  .sort();

const graph = new Map<string, Import[]>(
  modules.map((f) => [f, importsOf(f, readFileSync(path.join(SRC, f), "utf8"))]),
);

/**
 * The layers of src/, lowest first: a module may import modules of its own layer and of the layers before it.
 * They are ARCHITECTURE.md's concerns in the order their code depends on each other (the data flows sources →
 * scheduler → execution/state → sinks; checkpointing observes batches; operations read the API and its events).
 * The longest matching prefix places a file; a new folder or file must be placed here.
 */
const LAYERS: ReadonlyArray<{ name: string; modules: readonly string[] }> = [
  { name: "foundation", modules: ["errors.ts", "log.ts", "config.ts", "time.ts", "io/"] },
  { name: "execution", modules: ["rdd/"] },
  {
    // Files, their format and the codecs of state (registered classes): state stores may encode with them.
    name: "checkpoint storage and codecs",
    modules: [
      "checkpoint/CheckpointStore.ts",
      "checkpoint/FileCheckpointStore.ts",
      "checkpoint/CheckpointLease.ts",
      "checkpoint/format.ts",
      "checkpoint/classes.ts",
      "checkpoint/metadata.ts",
    ],
  },
  { name: "state", modules: ["state/"] },
  { name: "events", modules: ["scheduler/StreamingListener.ts"] },
  { name: "sources", modules: ["flow/", "receiver/"] },
  { name: "graph", modules: ["dstream/", "graph/", "State.ts", "connectors/nats/"] },
  { name: "scheduling", modules: ["scheduler/"] },
  { name: "checkpointing", modules: ["checkpoint/"] },
  {
    name: "API",
    modules: ["StreamingContext.ts", "DStream.ts", "job.ts", "index.ts", "connectors/nats/index.ts"],
  },
  { name: "operations", modules: ["ui/", "cli/", "testing.ts"] },
];

/** Imports that go up a layer on purpose. */
const ALLOWED_UPWARD: ReadonlyArray<{ from: string; to: string; why: string }> = [
  {
    from: "StreamingContext.ts",
    to: "ui/StreamingUI.ts",
    why: "the context starts the web UI it is configured with, loading it only then (import())",
  },
];

function layerOf(file: string): number | undefined {
  let best: { layer: number; length: number } | undefined;
  LAYERS.forEach((layer, i) => {
    for (const m of layer.modules) {
      const matches = m.endsWith("/") ? file.startsWith(m) : file === m;
      if (matches && (!best || m.length > best.length)) best = { layer: i, length: m.length };
    }
  });
  return best?.layer;
}

/** Strongly connected groups of more than one module, over the imports `follow` keeps. */
function cycles(follow: (i: Import) => boolean): string[][] {
  let index = 0;
  const stack: string[] = [];
  const onStack = new Set<string>();
  const indices = new Map<string, number>();
  const lowlinks = new Map<string, number>();
  const groups: string[][] = [];
  const connect = (v: string) => {
    indices.set(v, index);
    lowlinks.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const i of graph.get(v) ?? []) {
      if (!follow(i) || !graph.has(i.to)) continue;
      if (!indices.has(i.to)) {
        connect(i.to);
        lowlinks.set(v, Math.min(lowlinks.get(v)!, lowlinks.get(i.to)!));
      } else if (onStack.has(i.to)) lowlinks.set(v, Math.min(lowlinks.get(v)!, indices.get(i.to)!));
    }
    if (lowlinks.get(v) === indices.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1) groups.push(group.sort());
    }
  };
  for (const v of graph.keys()) if (!indices.has(v)) connect(v);
  return groups;
}

describe("the import graph", () => {
  it("is read with type-only imports, re-exports and import() told apart", () => {
    const text = [
      'import type { A } from "./a.js";',
      'import { type B, C } from "../rdd/b.js";',
      'export * from "./c.js";',
      'export type { D } from "./d.js";',
      'import { readFileSync } from "node:fs";',
      'async function f() { return import("../ui/e.js"); }',
    ].join("\n");
    expect(importsOf("dstream/x.ts", text)).toEqual([
      { to: "dstream/a.ts", typeOnly: true, dynamic: false },
      { to: "rdd/b.ts", typeOnly: false, dynamic: false },
      { to: "dstream/c.ts", typeOnly: false, dynamic: false },
      { to: "dstream/d.ts", typeOnly: true, dynamic: false },
      { to: "ui/e.ts", typeOnly: false, dynamic: true },
    ]);
    expect(graph.get("StreamingContext.ts")?.some((i) => i.to === "DStream.ts" && !i.typeOnly)).toBe(true);
  });

  it("keeps the engine's lower layers from importing StreamingContext or DStream, except as a type", () => {
    const lower = ["dstream/", "rdd/", "state/", "checkpoint/", "scheduler/"];
    const offenders: string[] = [];
    for (const [file, imports] of graph) {
      if (!lower.some((d) => file.startsWith(d))) continue;
      for (const i of imports) {
        if (!i.typeOnly && (i.to === "StreamingContext.ts" || i.to === "DStream.ts"))
          offenders.push(`${file} imports ${i.to}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it("places every module of src/ in a layer", () => {
    expect([...graph.keys()].filter((f) => layerOf(f) === undefined)).toEqual([]);
  });

  it("has every module import only its own layer or the layers below it", () => {
    const violations: string[] = [];
    for (const [file, imports] of graph) {
      const from = layerOf(file);
      if (from === undefined) continue;
      for (const i of imports) {
        const to = layerOf(i.to);
        if (to === undefined || to <= from) continue;
        if (ALLOWED_UPWARD.some((a) => a.from === file && a.to === i.to)) continue;
        violations.push(
          `${file} (${LAYERS[from]!.name}) imports ${i.to} (${LAYERS[to]!.name})${i.typeOnly ? " as a type" : ""}`,
        );
      }
    }
    expect(violations).toEqual([]);
  });

  it("has no import cycle, type-only imports included, but for the API's two classes", () => {
    // DStream and StreamingContext are one API: a stream's `context`, the context's stream factories. A module
    // loaded by import() when it runs cannot close a cycle at load time, so those are not followed.
    const found = cycles((i) => !i.dynamic).filter(
      (group) => group.join(" ") !== "DStream.ts StreamingContext.ts",
    );
    expect(found).toEqual([]);
  });
});
