// The jobModule option: the module whose export rebuilds the graph (what a worker thread imports). start() checks
// that it loads and exports a function, with SPATE_GRAPH_NOT_REBUILDABLE otherwise; `spate run` sets it to the job
// it runs and tells the create function its role.
import { pathToFileURL } from "node:url";
import * as path from "node:path";
import { ManualClock, type SpateError, StreamingContext, type StreamingContextOptions } from "spate";
import { describe, expect, it } from "vitest";
import { root, spateRun } from "../support/child.js";
import { rejection } from "../support/rejection.js";

const echo = new URL("./echo-job.ts", import.meta.url);

function context(jobModule: StreamingContextOptions["jobModule"]): StreamingContext {
  const ssc = new StreamingContext({ batchDuration: 1000, clock: new ManualClock(0), jobModule });
  ssc.queueStream([[1]]).foreachRDD(() => {});
  return ssc;
}

describe("jobModule", () => {
  it("is recorded, and start() accepts a module that exports a function", async () => {
    const ssc = context({ url: echo, args: ["x"] });
    expect((ssc as unknown as { jobModule: unknown }).jobModule).toEqual({ url: echo.href, args: ["x"] });
    await ssc.start();
    await ssc.stop();
    const named = context({ url: echo.href, export: "default" });
    await named.start();
    await named.stop();
  });

  it("fails start() with SPATE_GRAPH_NOT_REBUILDABLE when the module is missing or exports no function", async () => {
    const missing = await rejection(context({ url: new URL("./no-such-job.ts", import.meta.url) }).start());
    expect(missing.code).toBe("SPATE_GRAPH_NOT_REBUILDABLE");
    expect(missing.message).toMatch(/no-such-job\.ts \(jobModule\) does not exist/);

    const notFunction = await rejection(context({ url: echo, export: "notAFunction" }).start());
    expect(notFunction.code).toBe("SPATE_GRAPH_NOT_REBUILDABLE");
    expect(notFunction.message).toMatch(/no function "notAFunction".*exports: default, notAFunction/);

    const broken = await rejection(context({ url: "data:text/javascript,throw new Error('boom')" }).start());
    expect(broken.code).toBe("SPATE_GRAPH_NOT_REBUILDABLE");
    expect(broken.message).toMatch(/does not load: boom/);
  });

  it("rejects a malformed option with SPATE_INVALID_ARGUMENT", () => {
    const bad = (jobModule: unknown) => {
      try {
        context(jobModule as StreamingContextOptions["jobModule"]);
      } catch (e) {
        return e as SpateError;
      }
      throw new Error("expected an error");
    };
    expect(bad("jobs/x.ts").code).toBe("SPATE_INVALID_ARGUMENT");
    expect(bad({ url: "jobs/x.ts" }).message).toMatch(/not a path.*pathToFileURL/);
    expect(bad({ url: echo, args: [1] }).message).toMatch(/args must be an array of strings/);
    expect(bad({ url: echo, export: "" }).code).toBe("SPATE_INVALID_ARGUMENT");
  });

  it("is set by spate run to the job it runs, whose create function is told it runs on the driver", async () => {
    const child = spateRun(["test/job-module/echo-job.ts", "a", "b"]);
    await child.until((o) => o.includes("JOB "), 60_000);
    const line = child
      .stdout()
      .split("\n")
      .find((l) => l.startsWith("JOB "))!;
    expect(JSON.parse(line.slice(4))).toEqual({
      jobModule: {
        url: pathToFileURL(path.join(root, "test/job-module/echo-job.ts")).href,
        export: "default",
        args: ["a", "b"],
      },
      role: "driver",
      args: ["a", "b"],
    });
    await child.stop();
  });
});
