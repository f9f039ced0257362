// A job module for test/job-module/job-module.test.ts: one queue batch, whose output prints the context's job module
// and the role the create function was given, then stops the context.
import { type JobArgs, StreamingContext } from "spate";

export default function createContext(job: JobArgs): StreamingContext {
  const ssc = new StreamingContext({ batchDuration: 100, appName: "echo" });
  ssc.queueStream([[1]]).foreachRDD(async () => {
    const { jobModule } = ssc as unknown as { jobModule: unknown };
    console.log(`JOB ${JSON.stringify({ jobModule, role: job.role, args: job.args })}`);
    void ssc.stop();
  });
  return ssc;
}

/** Not a function: a module naming this export cannot build a context. */
export const notAFunction = 42;
