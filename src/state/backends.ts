import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { type ClassRegistry, findUnrestorable } from "../checkpoint/classes.js";
import { decodeValue, encodeValue } from "../checkpoint/format.js";
import type { SpateConf } from "../config.js";
import { type LmdbBackendEnv, lmdbStateBackend } from "./LmdbStateStore.js";
import { memoryStateBackend, type StateBackend, type StateStoreProvider } from "./StateStore.js";

/** The backends `spate.state.backend` names. */
export const STATE_BACKENDS: Readonly<Record<string, StateBackend>> = {
  memory: memoryStateBackend,
  lmdb: lmdbStateBackend,
};

/**
 * Opens a context's state stores with `backend` (else the one `spate.state.backend` names), in a fresh folder under
 * `spate.state.dir` (or the system's temporary folder) made on first use; closing the provider closes the stores and
 * removes that folder.
 */
export function openStateProvider(
  conf: SpateConf,
  classes: ClassRegistry,
  backend?: StateBackend,
): StateStoreProvider {
  const chosen = backend ?? STATE_BACKENDS[String(conf.get("spate.state.backend"))]!;
  const configured = conf.get("spate.state.dir");
  let dir: string | undefined;
  let temporary: string | undefined;
  const removeTemporary = () => {
    if (temporary !== undefined) rmSync(temporary, { recursive: true, force: true });
  };
  const env: LmdbBackendEnv = {
    dir() {
      if (dir !== undefined) return dir;
      // A fresh folder per context (so that two contexts given one folder never share files), removed at stop.
      const parent = typeof configured === "string" ? path.resolve(configured) : tmpdir();
      mkdirSync(parent, { recursive: true });
      dir = temporary = mkdtempSync(path.join(parent, "spate-state-"));
      // A process that ends without stop() leaves no folder behind either.
      process.once("exit", removeTemporary);
      return dir;
    },
    encode: (value) => encodeValue(value, classes),
    decode: (bytes) => decodeValue(bytes, classes),
    unrestorable: (value, root) => findUnrestorable(value, classes, root),
  };
  const provider = chosen.createProvider(env);
  const close = provider.close?.bind(provider);
  provider.close = async () => {
    await close?.();
    removeTemporary();
    process.off("exit", removeTemporary);
  };
  return provider;
}
