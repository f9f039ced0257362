// socketTextStream against real TCP servers in the test: lines split across reads, \r\n, multi-byte characters cut
// between chunks, and the bad cases — a line that is not UTF-8, a peer that resets the connection, a server that
// is down at start. Each gives a reported, counted error and a reconnect, never silent loss or a failed job.
import * as net from "node:net";
import { type ReceiverInfo, SocketReceiver, StreamingContext } from "spate";
import { afterEach, describe, expect, it } from "vitest";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns true, failing after `ms`. */
async function eventually(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

interface Events {
  started: ReceiverInfo[];
  errors: ReceiverInfo[];
  stopped: Array<ReceiverInfo & { at: number }>;
}

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** A server whose n-th connection (from 0) is handed to `handlers[n]` (the last one for any later connection). */
async function server(handlers: Array<(socket: net.Socket) => void>, port = 0): Promise<number> {
  let n = 0;
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.setNoDelay(true);
    handlers[Math.min(n++, handlers.length - 1)]!(socket);
  });
  await new Promise<void>((resolve) => srv.listen(port, "127.0.0.1", resolve));
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        srv.close(() => resolve());
      }),
  );
  return (srv.address() as net.AddressInfo).port;
}

async function job(
  port: number,
  receiver = new SocketReceiver("127.0.0.1", port),
  conf: Record<string, number | boolean> = {},
) {
  const ssc = new StreamingContext({
    batchDuration: 50,
    appName: "socket",
    conf: { "spate.receiver.restartDelay": 50, "spate.receiver.maxRestartDelay": 400, ...conf },
  });
  const lines: string[] = [];
  const events: Events = { started: [], errors: [], stopped: [] };
  ssc.addStreamingListener({
    onReceiverStarted: ({ receiverInfo }) => events.started.push(receiverInfo),
    onReceiverError: ({ receiverInfo }) => events.errors.push(receiverInfo),
    onReceiverStopped: ({ receiverInfo }) => events.stopped.push({ ...receiverInfo, at: performance.now() }),
  });
  ssc.receiverStream(receiver).foreachRDD(async (rdd) => void lines.push(...(await rdd.collect())));
  await ssc.start();
  cleanup.push(() => ssc.stop());
  return { ssc, lines, events, receiver };
}

/** Writes the pieces one by one, apart in time, so that they arrive as separate reads. */
async function writeApart(socket: net.Socket, pieces: Array<string | number[]>) {
  for (const p of pieces) {
    socket.write(typeof p === "string" ? Buffer.from(p, "utf8") : Buffer.from(p));
    await sleep(25);
  }
}

describe("socketTextStream", () => {
  it("decodes lines across reads, strips \\r\\n, skips and counts a line that is not UTF-8", async () => {
    const emoji = Buffer.from("😀", "utf8");
    const port = await server([
      (s) =>
        void writeApart(s, [
          "alpha\r\nna",
          [0xc3], // ï cut in two
          [0xaf, ...Buffer.from("ve\n")],
          [0x66, 0xff, 0x0a], // "f\xff": not UTF-8
          "emoji ",
          [...emoji.subarray(0, 2)],
          [...emoji.subarray(2), ...Buffer.from(" split\nlast line without newline")],
        ]).then(() => s.end()),
      () => {}, // the reconnect after the clean close: an idle connection
    ]);
    const { ssc, lines, events, receiver } = await job(port);
    await eventually("four lines", () => lines.length >= 4);
    expect(lines).toEqual(["alpha", "naïve", "emoji 😀 split", "last line without newline"]);
    expect(receiver.malformedLines).toBe(1);
    expect(events.errors).toHaveLength(1);
    expect(events.errors[0]!.lastErrorMessage).toMatch(
      /not valid UTF-8 \(2 bytes; 1 malformed line\(s\) skipped/,
    );
    expect(events.errors[0]!.lastError).toBe("SpateError: A received line is not valid UTF-8.");
    // Spark's SocketReceiver restarts when the peer closes: the receiver reconnects.
    await eventually("a reconnect", () => events.started.length >= 2);
    expect(events.stopped[0]!.lastErrorMessage).toBe(`127.0.0.1:${port} closed the connection`);
    expect(ssc.state()).toBe("active");
  });

  it("reconnects after the peer resets the connection, and reports the unfinished line it dropped", async () => {
    const port = await server([
      (s) => void writeApart(s, ["1\n2\n", "unfinis"]).then(() => s.resetAndDestroy()),
      (s) => void writeApart(s, ["3\n4\n"]),
    ]);
    const { ssc, lines, events, receiver } = await job(port);
    await eventually("four lines", () => lines.length >= 4);
    expect(lines).toEqual(["1", "2", "3", "4"]);
    expect(receiver.droppedPartialLines).toBe(1);
    expect(events.errors.map((e) => e.lastErrorMessage)).toEqual([
      `The connection to 127.0.0.1:${port} broke in the middle of a line: its first 7 bytes were dropped (1 unfinished line(s) dropped so far).`,
    ]);
    expect(events.stopped[0]!.lastErrorMessage).toBe(`Error receiving data from 127.0.0.1:${port}`);
    expect(events.stopped[0]!.lastError).toMatch(/ECONNRESET/);
    expect(ssc.receiverInfos()[0]).toMatchObject({
      name: "SocketReceiver",
      active: true,
      restarts: 1,
      recordsStored: 4,
    });
    expect(ssc.state()).toBe("active");
  });

  it("keeps trying, with growing delays, while the server is down, and connects once it is up", async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));

    const { ssc, lines, events } = await job(port);
    await eventually("four failed attempts", () => events.stopped.length >= 4);
    for (const stop of events.stopped) {
      expect(stop.lastErrorMessage).toBe(`Error connecting to 127.0.0.1:${port}`);
      expect(stop.lastError).toMatch(/ECONNREFUSED/);
    }
    // Delays of 50, 100, 200 ms… between attempts (lower bounds only: timers never fire early).
    const gaps = events.stopped.slice(1, 4).map((s, i) => s.at - events.stopped[i]!.at);
    expect(gaps[1]!).toBeGreaterThanOrEqual(95);
    expect(gaps[2]!).toBeGreaterThanOrEqual(190);
    expect(ssc.state()).toBe("active");

    await server([(s) => void writeApart(s, ["up at last\n"])], port);
    await eventually("the line", () => lines.length >= 1, 5000);
    expect(lines).toEqual(["up at last"]);
    expect(ssc.receiverInfos()[0]!.restarts).toBeGreaterThanOrEqual(4);
  });

  it("reads many lines in order, and under a rate limit reads no further ahead than the limit lets it", async () => {
    const LINE = 40;
    const TOTAL = 1_000_000; // 40 MB: far more than the kernel's socket buffers hold
    const line = (i: number) => `${String(i).padStart(LINE - 2, "0")}\r\n`;
    let accepted = 0;
    let sender: net.Socket | undefined;
    const port = await server([
      (s) => {
        sender = s;
        let i = 0;
        const send = () => {
          while (i < TOTAL) {
            let text = "";
            for (let k = 0; k < 1000; k++) text += line(i++);
            if (!s.write(text)) return;
          }
          s.end();
        };
        s.on("drain", send);
        send();
      },
      () => {},
    ]);
    const { ssc, lines } = await job(port, undefined, { "spate.receiver.maxRate": 20_000 });
    await sleep(1500);
    const stored = ssc.receiverInfos()[0]!.recordsStored;
    accepted = sender!.bytesWritten - sender!.writableLength;
    // At most the rate (plus the second's worth the bucket saves up), and reading stopped close behind it: what the
    // sender got rid of is what was stored, one read, and the kernel's buffers (a few MB on loopback).
    expect(stored).toBeGreaterThan(0);
    expect(stored).toBeLessThanOrEqual(20_000 * 3);
    expect(accepted).toBeLessThan(stored * LINE + 6_000_000);
    await eventually("lines in batches", () => lines.length >= 1000);
    expect(lines.slice(0, 1000)).toEqual(Array.from({ length: 1000 }, (_, i) => line(i).slice(0, -2)));
  });

  it("checks its arguments", () => {
    const ssc = new StreamingContext({ batchDuration: 1000 });
    expect(() => ssc.socketTextStream("", 9999)).toThrow(
      expect.objectContaining({ code: "SPATE_INVALID_ARGUMENT" }),
    );
    expect(() => ssc.socketTextStream("localhost", 70_000)).toThrow(/1 to 65535/);
  });
});
