// Tests that need a program from Debian (chromium, nats-server) call ensureDebianPackage in beforeAll: a fresh
// machine gets it installed by the test setup itself, as the README promises, with no download from elsewhere.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

function which(program: string): string | undefined {
  if (program.startsWith("/")) return existsSync(program) ? program : undefined;
  try {
    return execFileSync("sh", ["-c", `command -v ${program}`], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Returns the path of `program`, installing Debian package `pkg` with apt-get when it is missing.
 * Runs apt-get directly as root, through sudo otherwise.
 */
export function ensureDebianPackage(pkg: string, program: string): string {
  const found = which(program);
  if (found) return found;
  const asRoot = process.getuid?.() === 0 ? [] : ["sudo", "-n"];
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const run = (args: string[]) => {
    const [cmd, ...rest] = [...asRoot, ...args] as [string, ...string[]];
    execFileSync(cmd, rest, { stdio: "inherit", env, timeout: 600_000 });
  };
  try {
    run(["apt-get", "install", "-y", "-q", "--no-install-recommends", pkg]);
  } catch {
    run(["apt-get", "update", "-q"]);
    run(["apt-get", "install", "-y", "-q", "--no-install-recommends", pkg]);
  }
  const installed = which(program);
  if (!installed) throw new Error(`installed Debian package ${pkg} but ${program} is still not on PATH`);
  return installed;
}
