// Every benchmark scenario, in the order they run. A unit runs in a process of its own and gives one or more rows.
import { catchUpDay } from "./catch-up.js";
import { runCheckpointScenarios } from "./checkpoint.js";
import { ingest } from "./ingest.js";
import { latency10ms } from "./latency.js";
import type { Log, ScenarioResult, Size } from "./measure.js";
import { memory30M } from "./large-state.js";
import { memory1M } from "./memory.js";
import { runningSumCheckpointed } from "./running-sum.js";
import { soakScenario } from "./soak.js";
import { stateBackends } from "./state-backends.js";
import { OPERATORS } from "../test/soak/soak-job.js";
import {
  mapWithStateScenario,
  runningSumsScenario,
  updateStateByKeyScenario,
  windowScenario,
  wordcount,
  wordcountWords,
} from "./throughput.js";

export interface BenchmarkUnit {
  /** The rows it gives; the first names the unit. */
  readonly scenarios: readonly string[];
  /** Sizes it is part of unless asked for by name with --only. */
  readonly sizes: readonly Size[];
  run(size: Size, log: Log): Promise<ScenarioResult[]>;
}

const ALL: readonly Size[] = ["full", "quick", "smoke"];

function unit(name: string, run: BenchmarkUnit["run"], sizes: readonly Size[] = ALL): BenchmarkUnit {
  return { scenarios: [name], sizes, run };
}

export const UNITS: readonly BenchmarkUnit[] = [
  unit("wordcount", wordcount),
  unit("wordcount-words", wordcountWords),
  unit("running-sum-checkpointed", runningSumCheckpointed),
  unit("mapWithState-10k", mapWithStateScenario(10_000, "mapWithState-10k", { full: 300, quick: 100 })),
  unit("mapWithState-1M", mapWithStateScenario(1_000_000, "mapWithState-1M", { full: 100, quick: 50 })),
  unit("mapWithState-10M", mapWithStateScenario(10_000_000, "mapWithState-10M", { full: 50, quick: 20 }), [
    "full",
  ]),
  unit(
    "mapWithState-sums-1M",
    runningSumsScenario(1_000_000, "mapWithState-sums-1M", { full: 100, quick: 50 }),
  ),
  unit(
    "mapWithState-sums-10M",
    runningSumsScenario(10_000_000, "mapWithState-sums-10M", { full: 50, quick: 20 }),
    ["full"],
  ),
  unit(
    "updateStateByKey-10k",
    updateStateByKeyScenario(10_000, "updateStateByKey-10k", { full: 300, quick: 100 }),
  ),
  unit(
    "updateStateByKey-1M",
    updateStateByKeyScenario(1_000_000, "updateStateByKey-1M", { full: 30, quick: 10 }),
  ),
  {
    scenarios: ["checkpoint-delta-1M", "checkpoint-full-1M", "recovery-1M"],
    sizes: ALL,
    run: async (size, log) => {
      const rows = await runCheckpointScenarios(size === "smoke" ? 2000 : 1_000_000, log, "1M");
      const order = ["checkpoint-delta-1M", "checkpoint-full-1M", "recovery-1M"];
      return rows.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
    },
  },
  {
    scenarios: [
      "backend-lmdb-vs-memory",
      "backend-lmdb-many",
      "backend-checkpoint-many",
      "backend-recovery-many",
    ],
    sizes: ALL,
    run: stateBackends,
  },
  unit("catch-up-1d", catchUpDay),
  unit("window-inverse", windowScenario(true, "window-inverse")),
  unit("window-naive", windowScenario(false, "window-naive")),
  unit("latency-10ms", latency10ms, ["full", "quick"]),
  unit("memory-1M", memory1M),
  // 30M keys in one partition, past V8's Map limit, in about 4 GB of the runner's 8 GB heap: minutes, so not part of
  // a quick run unless named (`--quick --only memory-30M` loads 17M keys).
  unit("memory-30M", memory30M, ["full", "smoke"]),
  { scenarios: ["ingest", "ingest-wal"], sizes: ALL, run: ingest },
  // Minutes at full size (100k batches per operator): part of full and quick runs, not of --smoke.
  {
    scenarios: OPERATORS.map((op) => `soak-${op}`),
    sizes: ["full", "quick"],
    run: soakScenario,
  },
];

/** Every scenario name, in order. */
export const SCENARIO_NAMES: readonly string[] = UNITS.flatMap((u) => u.scenarios);

/** The unit named by its first scenario. */
export function unitNamed(name: string): BenchmarkUnit | undefined {
  return UNITS.find((u) => u.scenarios[0] === name);
}
