// A synthetic clickstream: users browsing pages in sessions, written as files of CSV lines (`user,page,time`)
// into a folder, atomically (written under a dot-name, then renamed), the way a log shipper would.
import { mkdirSync, readdirSync, renameSync, writeFileSync } from "node:fs";
import * as path from "node:path";

const PAGES = [
  "/",
  "/search",
  "/cart",
  "/checkout",
  "/account",
  ...Array.from({ length: 30 }, (_, i) => `/products/${i + 1}`),
];

/** A small deterministic PRNG (mulberry32), so that a seed replays the same clicks. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface ClickstreamOptions {
  /** Clicks per second. */
  rate?: number;
  users?: number;
  intervalMs?: number;
}

/** Starts writing clicks into `dir` every `intervalMs`; returns a function that stops it. */
export function startClickstream(dir: string, options: ClickstreamOptions = {}): () => void {
  const { rate = 400, users = 300, intervalMs = 250 } = options;
  mkdirSync(dir, { recursive: true });
  let seq = readdirSync(dir).filter((n) => n.endsWith(".csv")).length;
  const random = prng(seq + 1);
  // Each user browses in bursts: active users click, and sometimes go quiet long enough for their session to end.
  const active = new Set<number>();
  const tick = () => {
    const now = Date.now();
    const lines: string[] = [];
    for (let i = 0; i < (rate * intervalMs) / 1000; i++) {
      if (active.size < users / 3 || random() < 0.05) active.add(Math.floor(random() * users));
      const pick = [...active][Math.floor(random() * active.size)]!;
      // Popular pages are popular: a skewed pick.
      const page = PAGES[Math.floor(PAGES.length * random() ** 2.5)]!;
      lines.push(`user-${pick},${page},${now}`);
      if (random() < 0.02) active.delete(pick);
    }
    const name = `clicks-${String(seq++).padStart(8, "0")}.csv`;
    writeFileSync(path.join(dir, `.${name}`), `${lines.join("\n")}\n`);
    renameSync(path.join(dir, `.${name}`), path.join(dir, name));
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
