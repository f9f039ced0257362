// Every example of the API reference (the `@example` blocks of the TSDoc in src/) runs and its assertions hold;
// the NATS ones run in test/nats/doc-examples.test.ts, against a real nats-server.
import { describe, expect, it } from "vitest";
import { docExamples, runExample } from "../support/docExamples.js";

const examples = docExamples();
const local = examples.filter((e) => !e.code.includes("localhost:4222"));

describe("the API reference's examples", () => {
  it("document the main exports", () => {
    const documented = examples.map((e) => e.name);
    for (const name of [
      "src/StreamingContext.ts class StreamingContext",
      "src/StreamingContext.ts static async getOrCreate",
      "src/DStream.ts class DStream",
      "src/State.ts class StateSpec",
      "src/State.ts interface State",
      "src/receiver/Receiver.ts abstract class Receiver",
      "src/rdd/RDD.ts class RDD",
      "src/connectors/nats/index.ts function natsJetStream",
      "src/connectors/nats/index.ts function publishToJetStream",
    ])
      expect(documented).toContain(name);
  });

  for (const example of local) {
    it(`${example.name} runs`, async () => {
      await runExample(example);
    });
  }
});
