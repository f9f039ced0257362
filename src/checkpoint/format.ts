import { crc32 } from "node:zlib";
import { addExtension, Packr } from "msgpackr";
import { CheckpointCorruptError, GraphMismatchError, SpateError } from "../errors.js";
import type { ClassRegistry } from "./classes.js";

/** What a checkpoint file holds. */
export type CheckpointFileKind = "metadata" | "state" | "wal";

const MAGIC = [0x53, 0x50, 0x54, 0x45]; // "SPTE"
const HEADER = 16;
const KIND_CODES: Record<CheckpointFileKind, number> = { metadata: 1, state: 2, wal: 3 };

interface Codec {
  encode(body: unknown, classes: ClassRegistry | undefined): Uint8Array;
  decode(bytes: Uint8Array, classes: ClassRegistry | undefined): unknown;
}

// The job's registered classes while a version 2 file is encoded or decoded (msgpack extensions are global to
// the msgpackr module, so they read the registry from here; both run synchronously).
let encoding: { classes: ClassRegistry | undefined } | undefined;
let decoding: { classes: ClassRegistry } | undefined;

/** An instance of a registered class: `[class name, own enumerable fields]`. */
const CLASS_INSTANCE = 0x43; // "C"
/** An object without prototype (`Object.create(null)`): its own enumerable fields. */
const NULL_PROTOTYPE = 0x4e; // "N"

// msgpackr picks an extension by `instanceof` its class: these classes answer it through Symbol.hasInstance.
// biome-ignore lint/complexity/noStaticOnlyClass: a class is what msgpackr's addExtension matches on
class RegisteredInstance {
  static [Symbol.hasInstance](v: unknown): boolean {
    return encoding?.classes?.nameOf(Object.getPrototypeOf(v)) !== undefined;
  }
}

// biome-ignore lint/complexity/noStaticOnlyClass: a class is what msgpackr's addExtension matches on
class NullPrototypeObject {
  static [Symbol.hasInstance](v: unknown): boolean {
    return encoding !== undefined && typeof v === "object" && v !== null && Object.getPrototypeOf(v) === null;
  }
}

function ownFields(v: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) out[k] = (v as Record<string, unknown>)[k];
  return out;
}

addExtension({
  Class: RegisteredInstance,
  type: CLASS_INSTANCE,
  write: (v: object) => [encoding!.classes!.nameOf(Object.getPrototypeOf(v)), ownFields(v)],
  read: ([name, fields]: [string, Record<string, unknown>]) => {
    if (!decoding) return fields; // read by a reader that does not know classes (the CLI): the fields
    const cls = decoding.classes.classNamed(name);
    if (!cls) throw new UnregisteredClassError(name);
    return Object.assign(Object.create(cls.prototype as object) as object, fields);
  },
});

addExtension({
  Class: NullPrototypeObject,
  type: NULL_PROTOTYPE,
  write: (v: object) => ownFields(v),
  read: (fields: Record<string, unknown>) => Object.assign(Object.create(null) as object, fields),
});

/** A checkpoint holds instances of a class the job did not register. */
class UnregisteredClassError extends GraphMismatchError {
  constructor(name: string) {
    super(
      `The checkpoint holds instances of class ${name}, which the job does not register: call ` +
        `ssc.registerClasses(${name}) where the job is built (in the create function given to getOrCreate).`,
      [],
    );
  }
}

// Format version 1: msgpack, Maps as Maps, no shared record structures (each file stands alone). A shipped codec
// never changes: a new encoding gets a new version here, and old files stay readable.
// Plain objects travel as self-describing records and Maps as maps, so both come back as what they were.
const v1Packr = new Packr({ useRecords: true, mapsAsObjects: false, moreTypes: true });
// Format version 2: version 1, plus instances of registered classes (extension 0x43: class name and fields) and
// objects without prototype (extension 0x4e: fields), which version 1 stored as plain objects.
const v2Packr = new Packr({ useRecords: true, mapsAsObjects: false, moreTypes: true });
const v2: Codec = {
  encode(b, classes) {
    const outer = encoding;
    encoding = { classes };
    try {
      return v2Packr.pack(b);
    } finally {
      encoding = outer;
    }
  },
  decode(bytes, classes) {
    const outer = decoding;
    decoding = classes === undefined ? undefined : { classes };
    try {
      return v2Packr.unpack(bytes);
    } finally {
      decoding = outer;
    }
  },
};
// Format version 3: version 2's encoding; data checkpoints are one state file per operator and partition (body
// `{ operatorId, kind, version, mode, partition, numPartitions, state }`), listed per partition in the metadata
// (`StateRecord.partitionFiles`). Versions 1 and 2 wrote one state file per operator holding every partition
// (`partitions`); they are still read.
const CODECS: Record<number, Codec> = {
  1: { encode: (b) => v1Packr.pack(b), decode: (bytes) => v1Packr.unpack(bytes) },
  2: v2,
  3: v2,
};
const CURRENT = 3;

/**
 * One value in the encoding of the current format version's bodies (instances of `classes` keep their class), with
 * no file header: for stores that keep states outside the heap. Their files are a working copy, never restored
 * across builds, so the version is not recorded.
 */
export function encodeValue(value: unknown, classes?: ClassRegistry): Uint8Array {
  return CODECS[CURRENT]!.encode(value, classes);
}

/** Decodes what {@link encodeValue} wrote, in the same build. */
export function decodeValue(bytes: Uint8Array, classes?: ClassRegistry): unknown {
  return CODECS[CURRENT]!.decode(bytes, classes);
}

/**
 * `[magic "SPTE" | version u16 | kind u8 | reserved u8 | body length u32 | crc32(body) u32 | body]`. Instances of
 * the classes in `classes` keep their class.
 */
export function encodeCheckpointFile(
  kind: CheckpointFileKind,
  body: unknown,
  classes?: ClassRegistry,
): Uint8Array {
  const payload = CODECS[CURRENT]!.encode(body, classes);
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

/** A checkpoint file whose header and checksum verify, not decoded yet. */
export interface VerifiedCheckpointFile {
  readonly name: string;
  readonly version: number;
  readonly payload: Uint8Array;
}

/**
 * Verifies and decodes a checkpoint file; throws CheckpointCorruptError saying why it does not verify. With
 * `classes`, instances of registered classes come back as such (and a class it does not hold is an error);
 * without, as plain objects of their fields.
 */
export function decodeCheckpointFile(
  bytes: Uint8Array,
  kind: CheckpointFileKind,
  fileName: string,
  classes?: ClassRegistry,
): unknown {
  return decodeVerified(verifyCheckpointFile(bytes, kind, fileName), classes);
}

/** Decodes a verified file; see {@link decodeCheckpointFile}. */
export function decodeVerified(file: VerifiedCheckpointFile, classes?: ClassRegistry): unknown {
  try {
    return CODECS[file.version]!.decode(file.payload, classes);
  } catch (e) {
    if (e instanceof SpateError) throw e;
    throw corruptFile(file.name, "undecodable body", e);
  }
}

function corruptFile(fileName: string, why: string, cause?: unknown): CheckpointCorruptError {
  return new CheckpointCorruptError(
    `Checkpoint file ${fileName} does not verify: ${why}. It was torn by a crash or damaged; spate falls back to ` +
      "an older checkpoint if there is one.",
    fileName,
    cause,
  );
}

/** Checks a checkpoint file's header, length and checksum, without decoding its body. */
export function verifyCheckpointFile(
  bytes: Uint8Array,
  kind: CheckpointFileKind,
  fileName: string,
): VerifiedCheckpointFile {
  const corrupt = (why: string) => corruptFile(fileName, why);
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
  return { name: fileName, version, payload };
}
