// Receiver supervision on a ManualClock: restarts with exponential backoff after a failing onStart or restart(),
// a reset of the backoff once a restart stores data, reportError, stop(), and the listener events of each.
import { ManualClock, Receiver, type ReceiverInfo, StreamingContext } from "spate";
import { describe, expect, it } from "vitest";

/** Lets pending promise callbacks and I/O callbacks run. */
const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

interface Event {
  kind: "started" | "error" | "stopped";
  info: ReceiverInfo;
}

function context(conf: Record<string, number | boolean> = {}) {
  const clock = new ManualClock(0);
  const ssc = new StreamingContext({
    batchDuration: 1000,
    clock,
    conf: { "spate.receiver.restartDelay": 100, "spate.receiver.maxRestartDelay": 250, ...conf },
  });
  const events: Event[] = [];
  ssc.addStreamingListener({
    onReceiverStarted: ({ receiverInfo }) => events.push({ kind: "started", info: receiverInfo }),
    onReceiverError: ({ receiverInfo }) => events.push({ kind: "error", info: receiverInfo }),
    onReceiverStopped: ({ receiverInfo }) => events.push({ kind: "stopped", info: receiverInfo }),
  });
  const batches: number[][] = [];
  return { clock, ssc, events, batches };
}

/** Advances the clock by `ms`, letting the receiver's asynchronous steps run first. */
async function advance(clock: ManualClock, ms: number) {
  await flush();
  clock.advance(ms);
  await flush();
}

class FailingStart extends Receiver<number> {
  starts = 0;
  stops = 0;
  constructor(private readonly failures: number) {
    super();
  }
  async onStart() {
    this.starts++;
    if (this.starts <= this.failures) throw new Error(`boom ${this.starts}`);
  }
  onStop() {
    this.stops++;
  }
}

describe("receiver supervision", () => {
  it("restarts a receiver whose onStart throws, with exponential backoff up to the cap", async () => {
    const { clock, ssc, events } = context();
    const receiver = new FailingStart(3);
    ssc.receiverStream(receiver).foreachRDD(() => {});
    await ssc.start();
    expect(receiver.starts).toBe(1);
    // 100 ms, then 200 ms, then 400 ms capped at 250 ms.
    for (const [delay, starts] of [
      [100, 2],
      [200, 3],
      [250, 4],
    ] as const) {
      await advance(clock, delay - 1);
      expect(receiver.starts).toBe(starts - 1);
      await advance(clock, 1);
      expect(receiver.starts).toBe(starts);
    }
    expect(receiver.stops).toBe(3); // onStop releases what a failed onStart held
    expect(receiver.isStarted()).toBe(true);
    expect(events.map((e) => e.kind)).toEqual([
      "started",
      "stopped",
      "started",
      "stopped",
      "started",
      "stopped",
      "started",
    ]);
    const firstStop = events[1]!.info;
    expect(firstStop).toMatchObject({
      active: false,
      restarts: 0,
      lastErrorMessage: "onStart failed: Error: boom 1",
    });
    expect(firstStop.lastError).toBe("Error: boom 1");
    const [info] = ssc.receiverInfos();
    expect(info).toMatchObject({ name: "FailingStart", active: true, restarts: 3, recordsStored: 0 });
    expect(info!.lastErrorMessage).toBe("onStart failed: Error: boom 3");
    await receiver.store([1, 2]);
    expect(ssc.receiverInfos()[0]!.recordsStored).toBe(2);
    await ssc.stop();
    expect(receiver.stops).toBe(4);
    expect(events.at(-1)).toMatchObject({ kind: "stopped", info: { active: false } });
  });

  it("restarts on restart(reason); the backoff doubles only while restarts store nothing", async () => {
    const { clock, ssc, events } = context({ "spate.receiver.maxRestartDelay": 10_000 });
    class Flaky extends Receiver<number> {
      starts = 0;
      onStart() {
        this.starts++;
      }
      onStop() {}
    }
    const receiver = new Flaky();
    const seen: number[] = [];
    ssc.receiverStream(receiver).foreachRDD(async (rdd) => void seen.push(...(await rdd.collect())));
    await ssc.start();
    const restartAfter = async (stored: boolean, expectedDelay: number) => {
      const starts = receiver.starts;
      if (stored) await receiver.store(starts);
      receiver.restart("lost the connection", new Error("ECONNRESET"));
      receiver.restart("a second call while restarting is ignored");
      expect(receiver.isStopped()).toBe(true);
      await advance(clock, expectedDelay - 1);
      expect(receiver.starts).toBe(starts);
      await advance(clock, 1);
      expect(receiver.starts).toBe(starts + 1);
    };
    await restartAfter(true, 100);
    await restartAfter(false, 100);
    await restartAfter(false, 200);
    await restartAfter(false, 400);
    await restartAfter(true, 100); // an incarnation that stored data resets the backoff
    await restartAfter(false, 100);
    expect(ssc.receiverInfos()[0]).toMatchObject({ restarts: 6, recordsStored: 2, active: true });
    const stops = events.filter((e) => e.kind === "stopped");
    expect(stops).toHaveLength(6);
    expect(stops[0]!.info).toMatchObject({
      lastErrorMessage: "lost the connection",
      lastError: "Error: ECONNRESET",
    });
    await advance(clock, 1000 - (clock.getTimeMillis() % 1000));
    await ssc.awaitIdle();
    await ssc.stop();
    expect(seen).toEqual([1, 5]);
  });

  it("reportError records the error and posts onReceiverError without stopping the receiver", async () => {
    const { ssc, events } = context();
    const receiver = new FailingStart(0);
    ssc.receiverStream(receiver).foreachRDD(() => {});
    await ssc.start();
    receiver.reportError("a bad record was skipped", new TypeError("not a number"));
    expect(events.map((e) => e.kind)).toEqual(["started", "error"]);
    expect(events[1]!.info).toMatchObject({
      active: true,
      lastErrorMessage: "a bad record was skipped",
      lastError: "TypeError: not a number",
    });
    expect(events[1]!.info.lastErrorTime).toBeGreaterThan(0);
    expect(receiver.isStarted()).toBe(true);
    expect(ssc.receiverInfos()[0]!.lastErrorMessage).toBe("a bad record was skipped");
    await ssc.stop();
  });

  it("stop(reason) from the receiver stops it for good while the job carries on", async () => {
    const { clock, ssc, events } = context();
    const receiver = new FailingStart(0);
    let batches = 0;
    ssc.receiverStream(receiver).foreachRDD(() => void batches++);
    await ssc.start();
    receiver.stop("source exhausted");
    await advance(clock, 5000);
    await ssc.awaitIdle();
    expect(receiver.starts).toBe(1);
    expect(receiver.stops).toBe(1);
    expect(receiver.isStopped()).toBe(true);
    expect(batches).toBe(5);
    expect(ssc.state()).toBe("active");
    expect(events.map((e) => e.kind)).toEqual(["started", "stopped"]);
    const error = await receiver.store(1).then(
      () => undefined,
      (e: { code?: string }) => e,
    );
    expect(error?.code).toBe("SPATE_CONTEXT_STOPPED");
    await ssc.stop();
    expect(receiver.stops).toBe(1);
  });

  it("a context stopped while a restart is pending does not start the receiver again", async () => {
    const { clock, ssc, events } = context();
    const receiver = new FailingStart(1);
    ssc.receiverStream(receiver).foreachRDD(() => {});
    await ssc.start();
    await flush();
    await ssc.stop();
    clock.advance(10_000);
    await flush();
    expect(receiver.starts).toBe(1);
    expect(receiver.stops).toBe(1);
    expect(events.map((e) => e.kind)).toEqual(["started", "stopped"]);
    expect(ssc.receiverInfos()[0]!.active).toBe(false);
  });

  it("restart delays are settings, checked", () => {
    expect(
      () => new StreamingContext({ batchDuration: 1000, conf: { "spate.receiver.restartDelay": 0 } }),
    ).toThrow(expect.objectContaining({ code: "SPATE_INVALID_CONF" }));
    expect(
      () => new StreamingContext({ batchDuration: 1000, conf: { "spate.backpressure.pid.minRate": 0 } }),
    ).toThrow(expect.objectContaining({ code: "SPATE_INVALID_CONF" }));
    expect(
      () => new StreamingContext({ batchDuration: 1000, conf: { "spate.backpressure.pid.integral": -1 } }),
    ).toThrow(expect.objectContaining({ code: "SPATE_INVALID_CONF" }));
  });
});
