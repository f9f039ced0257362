// The NATS examples of the API reference (natsJetStream, publishToJetStream, jetStreamCheckpointStore) run against a real nats-server: each
// as written, with its server address replaced by the test server's.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { docExamples, runExample } from "../support/docExamples.js";
import { type NatsServer, startNatsServer } from "./server.js";

let server: NatsServer;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await server?.stop();
});

const examples = docExamples().filter((e) => e.code.includes("localhost:4222"));

describe("the API reference's NATS examples", () => {
  it("exist", () => {
    expect(examples.map((e) => e.name).sort()).toEqual([
      "src/connectors/nats/JetStreamCheckpointStore.ts function jetStreamCheckpointStore",
      "src/connectors/nats/index.ts function natsJetStream",
      "src/connectors/nats/index.ts function publishToJetStream",
    ]);
  });
  for (const example of examples) {
    it(`${example.name} runs`, { timeout: 60_000 }, async () => {
      await runExample(example, [["localhost:4222", server.url]]);
    });
  }
});
