import { crc32 } from "node:zlib";
import { Packr } from "msgpackr";
import { CheckpointCorruptError } from "../errors.js";

/** What a checkpoint file holds. */
export type CheckpointFileKind = "metadata" | "state" | "wal";

const MAGIC = [0x53, 0x50, 0x54, 0x45]; // "SPTE"
const HEADER = 16;
const KIND_CODES: Record<CheckpointFileKind, number> = { metadata: 1, state: 2, wal: 3 };

interface Codec {
  encode(body: unknown): Uint8Array;
  decode(bytes: Uint8Array): unknown;
}

// Format version 1: msgpack, Maps as Maps, no shared record structures (each file stands alone). A shipped codec
// never changes: a new encoding gets a new version here, and old files stay readable.
// Plain objects travel as self-describing records and Maps as maps, so both come back as what they were.
const v1Packr = new Packr({ useRecords: true, mapsAsObjects: false, moreTypes: true });
const CODECS: Record<number, Codec> = {
  1: { encode: (b) => v1Packr.pack(b), decode: (bytes) => v1Packr.unpack(bytes) },
};
const CURRENT = 1;

/** `[magic "SPTE" | version u16 | kind u8 | reserved u8 | body length u32 | crc32(body) u32 | body]`. */
export function encodeCheckpointFile(kind: CheckpointFileKind, body: unknown): Uint8Array {
  const payload = CODECS[CURRENT]!.encode(body);
  const out = new Uint8Array(HEADER + payload.length);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint16(4, CURRENT);
  view.setUint8(6, KIND_CODES[kind]);
  view.setUint8(7, 0);
  view.setUint32(8, payload.length);
  view.setUint32(12, crc32(payload));
  out.set(payload, HEADER);
  return out;
}

/** Verifies and decodes a checkpoint file; throws CheckpointCorruptError saying why it does not verify. */
export function decodeCheckpointFile(bytes: Uint8Array, kind: CheckpointFileKind, fileName: string): unknown {
  const corrupt = (why: string, cause?: unknown) =>
    new CheckpointCorruptError(
      `Checkpoint file ${fileName} does not verify: ${why}. It was torn by a crash or damaged; spate falls back to ` +
        "an older checkpoint if there is one.",
      fileName,
      cause,
    );
  if (bytes.length < HEADER) throw corrupt(`truncated (${bytes.length} bytes, shorter than the header)`);
  for (let i = 0; i < 4; i++)
    if (bytes[i] !== MAGIC[i]) throw corrupt("bad magic number, not a spate checkpoint file");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(4);
  const codec = CODECS[version];
  if (!codec)
    throw corrupt(`unknown format version ${version} (this build reads up to ${CURRENT}); upgrade spate`);
  if (view.getUint8(6) !== KIND_CODES[kind]) throw corrupt(`not a ${kind} file`);
  const length = view.getUint32(8);
  if (bytes.length !== HEADER + length)
    throw corrupt(`truncated (body of ${bytes.length - HEADER} of ${length} bytes)`);
  const payload = bytes.subarray(HEADER);
  if (crc32(payload) !== view.getUint32(12)) throw corrupt("checksum mismatch");
  try {
    return codec.decode(payload);
  } catch (e) {
    throw corrupt("undecodable body", e);
  }
}
