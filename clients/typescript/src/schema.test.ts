// The validator itself, on a small document and canned answers: it must
// reject what the smoke test relies on it to reject.
import assert from "node:assert/strict";
import { test } from "node:test";

import createClient from "openapi-fetch";
import { responseValidator, type OpenAPIDocument } from "./schema.js";

const doc: OpenAPIDocument = {
  openapi: "3.0.3",
  paths: {
    "/v1/things/{thing}": {
      get: {
        responses: {
          "200": { content: { "application/json": { schema: { $ref: "#/components/schemas/Thing" } } } },
          "404": { $ref: "#/components/responses/Error" },
        },
      },
      delete: { responses: { "200": { description: "deleted" } } },
    },
  },
  components: {
    schemas: {
      Thing: {
        type: "object",
        properties: { name: { type: "string" }, count: { type: "string", format: "int64" } },
        required: ["name"],
      },
      Error: { type: "object", properties: { code: { type: "integer" }, message: { type: "string" } } },
    },
    responses: {
      Error: { description: "error", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
    },
  },
} as OpenAPIDocument;

/** call answers one request with status and body through the validator. */
async function call(method: "GET" | "DELETE", status: number, body: string, type = "application/json") {
  const client = createClient<Record<string, never>>({
    baseUrl: "http://test",
    fetch: async () => new Response(body || null, { status, headers: body ? { "Content-Type": type } : {} }),
  });
  client.use(responseValidator(doc));
  // The paths are untyped here: the validator, not the types, is under test.
  const untyped = client as unknown as Record<string, (path: string, init: object) => Promise<unknown>>;
  return untyped[method]!("/v1/things/{thing}", { params: { path: { thing: "t1" } } });
}

test("responseValidator", async (t) => {
  const cases: { name: string; method: "GET" | "DELETE"; status: number; body: string; type?: string; want?: RegExp }[] = [
    { name: "declared body", method: "GET", status: 200, body: '{"name":"things/t1","count":"3"}' },
    { name: "shared error response", method: "GET", status: 404, body: '{"code":5,"message":"no"}' },
    { name: "no body where none is declared", method: "DELETE", status: 200, body: "" },
    { name: "missing required field", method: "GET", status: 200, body: '{"count":"3"}', want: /must have required property 'name'/ },
    { name: "wrong type", method: "GET", status: 200, body: '{"name":"t","count":3}', want: /count must be string/ },
    { name: "undeclared field", method: "GET", status: 200, body: '{"name":"t","colour":"red"}', want: /must NOT have additional properties/ },
    { name: "undeclared status", method: "GET", status: 500, body: '{"code":13}', want: /status not declared/ },
    { name: "not JSON", method: "GET", status: 200, body: "<html>", type: "text/html", want: /content type text\/html/ },
    { name: "body where none is declared", method: "DELETE", status: 200, body: "{}", want: /declares none/ },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const answer = call(c.method, c.status, c.body, c.type);
      if (c.want) await assert.rejects(answer, c.want);
      else await answer;
    });
  }
});

test("responseValidator refuses a document that is not OpenAPI 3.0", () => {
  assert.throws(() => responseValidator({ ...doc, openapi: "3.1.0" }), /want 3.0.x/);
});
