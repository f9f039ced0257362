// A receiver's blocks know how many records they hold: `count()` right on the stream answers from them without
// decoding a record, while any transformation in between reads the records and counts what it gives.
import { type DStream, ManualClock, Receiver, StreamingContext } from "spate";
import { describe, expect, it } from "vitest";
import type { StoredBlock } from "../../src/receiver/Block.js";

/** A block of `lines` that counts how often its records are read. */
function block(lines: string[]): StoredBlock<string> & { reads: number } {
  return {
    count: lines.length,
    reads: 0,
    forEach(emit) {
      this.reads++;
      for (const l of lines) emit(l);
    },
    records() {
      this.reads++;
      return lines.slice();
    },
    encode: () => [Buffer.from(lines.join("\n"))],
  };
}

class Blocks extends Receiver<string> {
  constructor(private readonly blocks: StoredBlock<string>[]) {
    super();
  }
  onStart(): void {
    for (const b of this.blocks) void this.storeBlock(b);
  }
  onStop(): void {}
}

async function counts(
  blocks: StoredBlock<string>[],
  build: (s: DStream<string>) => DStream<string>,
): Promise<number[]> {
  const clock = new ManualClock(0);
  const ssc = new StreamingContext({ batchDuration: 1000, clock, conf: { "spate.ui.port": 0 } });
  const out: number[] = [];
  build(ssc.receiverStream(new Blocks(blocks)))
    .count()
    .foreachRDD(async (rdd) => void out.push(...(await rdd.collect())));
  await ssc.start();
  await ssc.awaitIdle();
  clock.advance(1000);
  await ssc.awaitIdle();
  await ssc.stop();
  return out;
}

describe("count of a receiver's blocks", () => {
  it("counts blocks right under count() without reading a record", async () => {
    const blocks = [block(["a", "b", "c"]), block(["d"]), block(["e", "f"])];
    expect(await counts(blocks, (s) => s)).toEqual([6]);
    expect(blocks.map((b) => b.reads)).toEqual([0, 0, 0]);
  });

  it("reads the records when a transformation stands between the blocks and count()", async () => {
    const blocks = [block(["a", "b", "c"]), block(["d", "b"])];
    expect(await counts(blocks, (s) => s.filter((x) => x !== "b"))).toEqual([3]);
    expect(blocks.every((b) => b.reads > 0)).toBe(true);
  });
});
