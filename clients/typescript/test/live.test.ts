// The generated TypeScript client against a real `cairn serve`: create a
// workflow, start a run by the workflow's name, wait until it settles (paused
// at its gate), resume it, wait until it settles again (completed), and read
// a refusal as a problem. CAIRN_URL and CAIRN_API_KEY name the server.
import assert from "node:assert/strict";
import { test } from "node:test";

import { cairnClient, type Schemas } from "../src/index.js";

const client = cairnClient(process.env.CAIRN_URL!, process.env.CAIRN_API_KEY!);

const definition: Schemas["WorkflowDefinition"] = {
  name: "ts-review",
  steps: [
    {
      name: "draft",
      type: "transform",
      config: { template: { title: "{{ topic | title }}" } },
      input: "{{ input }}",
    },
    { name: "check", type: "noop", input: "{{ steps.draft.output }}", approval: { message: "Publish?" } },
  ],
};

test("a run is started, settled, resumed and settled", async () => {
  const created = await client.POST("/v1/workflows", { body: { definition, status: "active" } });
  assert.equal(created.response.status, 201, JSON.stringify(created.error));

  const started = await client.POST("/v1/workflows/{id}/runs", {
    params: { path: { id: "ts-review" } },
    body: { input: { topic: "typescript clients" } },
  });
  assert.ok(started.data, JSON.stringify(started.error));
  assert.equal(started.data.number, 1);
  const id = started.data.id;

  const paused = await client.GET("/v1/runs/{id}", {
    params: { path: { id }, query: { wait: "30s", until: "settled" } },
  });
  assert.ok(paused.data, JSON.stringify(paused.error));
  assert.equal(paused.data.status, "paused");
  assert.equal(paused.data.pending_action?.step, "check");

  const resumed = await client.POST("/v1/runs/{id}/resume", {
    params: { path: { id } },
    body: { step: "check", input: "approve" },
  });
  assert.ok(resumed.data, JSON.stringify(resumed.error));

  const done = await client.GET("/v1/runs/{id}", {
    params: { path: { id }, query: { wait: "30s", after: paused.data.last_event, until: "settled" } },
  });
  assert.ok(done.data, JSON.stringify(done.error));
  assert.equal(done.data.status, "completed");
  assert.deepEqual(done.data.result, { title: "Typescript Clients" });
});

test("a refusal is a problem", async () => {
  const missing = await client.GET("/v1/runs/{id}", { params: { path: { id: "no-such-run" } } });
  assert.equal(missing.response.status, 404);
  assert.equal(missing.error?.type, "urn:cairn:problem:not-found");
});
