// Files are read as streams of lines, a chunk at a time: lines cut across chunks, characters cut across chunks,
// `\r\n` cut between chunks and malformed UTF-8 give the same lines as decoding the whole file would, with the
// malformed lines counted instead of decoded to U+FFFD.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readLines } from "../../src/dstream/lines.js";

const dir = mkdtempSync(path.join(tmpdir(), "spate-lines-"));
let n = 0;
function file(bytes: Uint8Array | string): string {
  const f = path.join(dir, `f${n++}`);
  writeFileSync(f, bytes);
  return f;
}

/** The reference: split the bytes at `\n`, drop the `\r` of `\r\n` and the empty piece after a last `\n`. */
function reference(bytes: Uint8Array): { lines: string[]; malformed: number } {
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const lines: string[] = [];
  let malformed = 0;
  const buf = Buffer.from(bytes);
  if (buf.length === 0) return { lines, malformed };
  const pieces: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] === 0x0a) {
      pieces.push(buf.subarray(start, i));
      start = i + 1;
    }
  }
  if (start < buf.length) pieces.push(buf.subarray(start));
  for (let piece of pieces) {
    if (piece.length > 0 && piece[piece.length - 1] === 0x0d) piece = piece.subarray(0, -1);
    try {
      lines.push(decoder.decode(piece));
    } catch {
      malformed++;
    }
  }
  return { lines, malformed };
}

function read(f: string, chunk: number) {
  const lines: string[] = [];
  const counts = readLines(f, (l) => lines.push(l), chunk);
  return { lines, counts };
}

describe("reading a file's lines as a stream", () => {
  it("gives the lines of small cases whatever the chunk size", () => {
    const cases: Array<[string, string[]]> = [
      ["", []],
      ["a", ["a"]],
      ["a\n", ["a"]],
      ["a\n\n", ["a", ""]],
      ["\n", [""]],
      ["a\r\nb\r\n", ["a", "b"]],
      ["a\r\nb", ["a", "b"]],
      ["héllo wörld\n€ 𝄞\nlast", ["héllo wörld", "€ 𝄞", "last"]],
      ["\uFEFFbom\n", ["\uFEFFbom"]],
    ];
    for (const [text, expected] of cases) {
      const f = file(text);
      for (const chunk of [1, 2, 3, 5, 64, 1 << 20]) {
        const { lines, counts } = read(f, chunk);
        expect(lines, `${JSON.stringify(text)} in chunks of ${chunk}`).toEqual(expected);
        expect(counts).toEqual({ lines: expected.length, malformed: 0 });
      }
    }
  });

  it("skips and counts the lines that are not valid UTF-8, keeping the others", () => {
    const bytes = Buffer.concat([
      Buffer.from("good one\n"),
      Buffer.from([0x62, 0x61, 0x64, 0xff, 0x0a]), // "bad" + an invalid byte
      Buffer.from("ünïcode\n"),
      Buffer.from([0xe2, 0x82, 0x0a]), // a truncated 3-byte sequence
      Buffer.from("end"),
    ]);
    const f = file(bytes);
    for (const chunk of [1, 4, 7, 1 << 20]) {
      const { lines, counts } = read(f, chunk);
      expect(lines).toEqual(["good one", "ünïcode", "end"]);
      expect(counts).toEqual({ lines: 3, malformed: 2, firstMalformedLine: 2 });
    }
  });

  it("equals decoding the whole file, for any bytes and chunk size (property)", () => {
    const alphabet = fc.constantFrom(
      ..."ab \n\r".split("").map((c) => Buffer.from(c)),
      Buffer.from("é"),
      Buffer.from("€"),
      Buffer.from("𝄞"),
      Buffer.from([0xff]),
      Buffer.from([0xc3]),
    );
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 200 }), fc.integer({ min: 1, max: 40 }), (parts, chunk) => {
        const bytes = Buffer.concat(parts);
        const expected = reference(bytes);
        const { lines, counts } = read(file(bytes), chunk);
        expect(lines).toEqual(expected.lines);
        expect(counts.malformed).toBe(expected.malformed);
      }),
      { numRuns: 300 },
    );
  });

  it("reads a file of several MB in small chunks, lines across every chunk boundary", () => {
    const lines = Array.from(
      { length: 60_000 },
      (_, i) => `${i} ${"ü€".repeat(i % 37)} ${"x".repeat(i % 101)}`,
    );
    const f = file(`${lines.join("\n")}\n`);
    const got: string[] = [];
    // 4093 bytes: a prime, so that boundaries fall everywhere, inside lines and inside characters.
    const counts = readLines(f, (l) => got.push(l), 4093);
    expect(counts).toEqual({ lines: lines.length, malformed: 0 });
    expect(got.length).toBe(lines.length);
    expect(got).toEqual(lines);
  });
});
