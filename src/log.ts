/**
 * Structured logs. The interface is pino's (`logger.info(fields, message)`), so a user can pass a pino logger;
 * the default writes one JSON object per line to stderr, or a readable line on a terminal.
 */
export interface Logger {
  /** Details, off by default (`SPATE_LOG_LEVEL=debug`), such as one line per batch. */
  debug(fields: Record<string, unknown>, message: string): void;
  /** What the job does: starts, stops, recoveries, a summary of batches every 10 s. */
  info(fields: Record<string, unknown>, message: string): void;
  /** Something went wrong and the job goes on. */
  warn(fields: Record<string, unknown>, message: string): void;
  /** Something went wrong that fails a batch or the job. */
  error(fields: Record<string, unknown>, message: string): void;
}

const LEVELS = { debug: 20, info: 30, warn: 40, error: 50, silent: 100 } as const;
type Level = keyof typeof LEVELS;

function levelFromEnv(): Level {
  const v = (process.env.SPATE_LOG_LEVEL ?? "info").toLowerCase();
  return (v in LEVELS ? v : "info") as Level;
}

function plain(value: unknown): unknown {
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, message: value.message };
    if ("code" in value) out.code = (value as { code: unknown }).code;
    // The stack of the error a user function threw (a UserFunctionError's cause) is where its author looks first.
    if (value.stack !== undefined) out.stack = value.stack;
    if (value.cause !== undefined) out.cause = plain(value.cause);
    return out;
  }
  return typeof value === "bigint" ? value.toString() : value;
}

/** The default logger: JSON lines on stderr, or a human format when stderr is a terminal. */
export function createLogger(name: string, level: Level = levelFromEnv()): Logger {
  const min = LEVELS[level];
  const human = process.stderr.isTTY === true;
  const write = (lvl: Exclude<Level, "silent">, fields: Record<string, unknown>, message: string) => {
    if (LEVELS[lvl] < min) return;
    if (human) {
      const rest = Object.entries(fields)
        .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(plain(v)) : String(plain(v))}`)
        .join(" ");
      process.stderr.write(
        `${new Date().toISOString()} ${lvl.toUpperCase().padEnd(5)} ${name}: ${message} ${rest}\n`,
      );
    } else {
      const entry = { time: Date.now(), level: lvl, name, msg: message, ...fields };
      process.stderr.write(`${JSON.stringify(entry, (_k, v) => plain(v))}\n`);
    }
  };
  return {
    debug: (f, m) => write("debug", f, m),
    info: (f, m) => write("info", f, m),
    warn: (f, m) => write("warn", f, m),
    error: (f, m) => write("error", f, m),
  };
}

/** Holds log lines until the logger they belong to is known (recovery reads a checkpoint before the job exists). */
export class BufferedLogger implements Logger {
  private lines: Array<[Exclude<Level, "silent">, Record<string, unknown>, string]> = [];
  debug(fields: Record<string, unknown>, message: string): void {
    this.lines.push(["debug", fields, message]);
  }
  info(fields: Record<string, unknown>, message: string): void {
    this.lines.push(["info", fields, message]);
  }
  warn(fields: Record<string, unknown>, message: string): void {
    this.lines.push(["warn", fields, message]);
  }
  error(fields: Record<string, unknown>, message: string): void {
    this.lines.push(["error", fields, message]);
  }
  /** Writes the held lines to `logger`, in order, and forgets them. */
  flushTo(logger: Logger): void {
    for (const [level, fields, message] of this.lines.splice(0)) logger[level](fields, message);
  }
}
