// A checkpoint path that is a file (or lies under one) fails with a coded error that says so, not a bare ENOTDIR.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { FileCheckpointStore, ManualClock, SpateError, StreamingContext } from "spate";
import { describe, expect, it } from "vitest";
import { rejection } from "./support/rejection.js";

function create(): StreamingContext {
  const ssc = new StreamingContext({ batchDuration: 1000, clock: new ManualClock(0) });
  ssc.queueStream<number>([]).print();
  return ssc;
}

describe("a checkpoint path that is not a folder", () => {
  const base = mkdtempSync(path.join(tmpdir(), "spate-checkpoint-path-"));
  const file = path.join(base, "a-file");
  writeFileSync(file, "not a folder");

  for (const [what, location] of [
    ["a file", file],
    ["a path under a file", path.join(file, "checkpoints")],
  ] as const) {
    it(`getOrCreate on ${what}: SPATE_INVALID_ARGUMENT naming the path`, async () => {
      const error = await rejection(StreamingContext.getOrCreate(location, create));
      expect(error).toBeInstanceOf(SpateError);
      expect(error.code).toBe("SPATE_INVALID_ARGUMENT");
      expect(error.message).toContain(`The checkpoint path ${location} is not a folder`);
    });

    it(`FileCheckpointStore on ${what}: write and read fail the same way`, async () => {
      const store = new FileCheckpointStore(location);
      for (const op of [
        () => store.write("metadata-1", new Uint8Array([1])),
        () => store.read("metadata-1"),
      ]) {
        const error = await rejection(op());
        expect(error.code).toBe("SPATE_INVALID_ARGUMENT");
        expect(error.message).toContain("is not a folder");
      }
    });
  }

  it("a folder that does not exist yet is no error: it is created on the first write", async () => {
    const store = new FileCheckpointStore(path.join(base, "new", "checkpoints"));
    expect(await store.list()).toEqual([]);
    await store.write("metadata-1", new Uint8Array([1]));
    expect(await store.list()).toEqual(["metadata-1"]);
  });
});
