// Runs one benchmark unit in a process of its own (started by bench/run.ts with --expose-gc), so that each
// scenario starts from a clean heap, its peak RSS is its own, and the memory scenario can collect garbage.
// Usage: node --expose-gc --import tsx bench/scenario-process.ts <unit> <full|quick|smoke>
// Sends `{ results }` to the parent over IPC (or prints it as JSON when run by hand).
import { type Size, stderrLog } from "./measure.js";
import { unitNamed } from "./scenarios.js";

const [name, size] = process.argv.slice(2);
const unit = name === undefined ? undefined : unitNamed(name);
if (!unit || (size !== "full" && size !== "quick" && size !== "smoke")) {
  process.stderr.write("usage: bench/scenario-process.ts <unit> <full|quick|smoke>\n");
  process.exit(2);
}

try {
  const results = await unit.run(size as Size, stderrLog);
  if (process.send) process.send({ results }, () => process.exit(0));
  else {
    process.stdout.write(`${JSON.stringify({ results }, null, 2)}\n`);
    process.exit(0);
  }
} catch (e) {
  process.stderr.write(`${name} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
}
