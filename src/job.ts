import type { JobModule, StreamingContext } from "./StreamingContext.js";

export type { JobModule };

/** What `spate run` gives the job's create function: the checkpoint folder, and the arguments after the module. */
export interface JobArgs {
  /** The `--checkpoint` folder, when given (the command then calls `getOrCreate` with it). */
  checkpoint?: string;
  /** The command-line arguments after the job module (or `jobModule.args`). */
  args: string[];
  /**
   * Where the graph is being built: `"driver"` (the process that runs the job: `spate run`, or a program calling
   * the function itself) or `"worker"` (a worker thread rebuilding the same graph from the job module, which must
   * build the same operators but can skip side effects such as generators of test input or servers). Absent:
   * the driver.
   */
  role?: "driver" | "worker";
}

/** The function a job module exports (as default, or as `createContext`). */
export type CreateJob = (job: JobArgs) => StreamingContext | Promise<StreamingContext>;
