import type { StreamingContext } from "./StreamingContext.js";

/** What `spate run` gives the job's create function: the checkpoint folder, and the arguments after the module. */
export interface JobArgs {
  /** The `--checkpoint` folder, when given (the command then calls `getOrCreate` with it). */
  checkpoint?: string;
  /** The command-line arguments after the job module. */
  args: string[];
}

/** The function a job module exports (as default, or as `createContext`). */
export type CreateJob = (job: JobArgs) => StreamingContext | Promise<StreamingContext>;
