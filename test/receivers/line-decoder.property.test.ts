// The socket receiver's line decoding against a model, on random bytes cut into random chunks: lines end at `\n`
// (a `\r` before it is dropped), a character or a line may be cut anywhere between chunks, a line that is not valid
// UTF-8 is skipped and counted, and the unfinished line at the end comes out when the stream ends.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LineDecoder } from "../../src/receiver/SocketReceiver.js";

/** The model: split the whole stream, then decode line by line. */
function model(bytes: Uint8Array): { lines: string[]; malformed: number } {
  const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const lines: string[] = [];
  let malformed = 0;
  let start = 0;
  const take = (end: number) => {
    let line = bytes.subarray(start, end);
    if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, -1);
    try {
      lines.push(strict.decode(line));
    } catch {
      malformed++;
    }
  };
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x0a) {
      take(i);
      start = i + 1;
    }
  }
  if (start < bytes.length) take(bytes.length);
  return { lines, malformed };
}

const piece = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: "grapheme", maxLength: 6 }).map((s) => [...Buffer.from(s)]) },
  { weight: 3, arbitrary: fc.constantFrom([0x0a], [0x0d, 0x0a], [0x0d]) },
  { weight: 1, arbitrary: fc.constantFrom([0xff], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xc0, 0xaf]) },
);

describe("LineDecoder", () => {
  it("gives the model's lines and malformed count, however the stream is cut", () => {
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 60 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (pieces, cuts) => {
          const bytes = Uint8Array.from(pieces.flat());
          const at = [...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % (bytes.length + 1))))].sort(
            (a, b) => a - b,
          );
          let malformed = 0;
          const decoder = new LineDecoder(() => malformed++);
          const lines: string[] = [];
          const collect = (got: ReturnType<LineDecoder["push"]>) => {
            const records = Array.isArray(got) ? got : got.records();
            if (!Array.isArray(got)) {
              expect(got.count).toBe(records.length);
              const emitted: string[] = [];
              got.forEach((l) => void emitted.push(l));
              expect(emitted).toEqual(records);
            }
            lines.push(...records);
          };
          let from = 0;
          for (const to of [...at, bytes.length]) {
            collect(decoder.push(Buffer.from(bytes.subarray(from, to))));
            from = to;
          }
          collect(decoder.rest());
          const expected = model(bytes);
          expect(lines).toEqual(expected.lines);
          expect(malformed).toBe(expected.malformed);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
