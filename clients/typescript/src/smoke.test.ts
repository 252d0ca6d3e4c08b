// Smoke test of the generated client against a running mesh: what the README
// shows a storefront developer, with every response body validated against
// the OpenAPI document. Point it at a gateway with TRANSLOAD_BASE_URL (e.g.
// http://127.0.0.1:8080 under `make run`); TRANSLOAD_API_KEY and
// TRANSLOAD_CUSTOMER default to the demo key and customer.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";

import { createStorefrontClient } from "./client.js";
import { responseValidator } from "./schema.js";

const documentURL = new URL("../../../gen/openapi3/storefront.v1.json", import.meta.url);

const baseUrl = process.env.TRANSLOAD_BASE_URL;
if (!baseUrl) throw new Error("TRANSLOAD_BASE_URL is not set: the REST base URL of a running gateway, e.g. http://127.0.0.1:8080");
const apiKey = process.env.TRANSLOAD_API_KEY || "demo-web-key";
const customerId = process.env.TRANSLOAD_CUSTOMER || "C0001";

const client = createStorefrontClient({ baseUrl, apiKey });
client.use(responseValidator(JSON.parse(readFileSync(documentURL, "utf8"))));

// Purchase order numbers tell this run's orders from others on the mesh.
const run = randomUUID().slice(0, 8);

const shipTo = {
  recipient: "Demo GmbH",
  lines: ["Hafenstr. 1"],
  locality: "Hamburg",
  postalCode: "20457",
  regionCode: "DE",
};

/** orderId is the `{order}` path segment of an order's resource name. */
function orderId(name: string | undefined): string {
  const id = name?.match(/^orders\/([^/]+)$/)?.[1];
  assert.ok(id, `order name ${name} is not orders/{order}`);
  return id;
}

function placeOrder(idempotencyKey: string, purchaseOrderNumber: string, sku = "SKU-00001") {
  return client.POST("/v1/orders", {
    params: { header: { "Idempotency-Key": idempotencyKey } },
    body: {
      customerId,
      currencyCode: "EUR",
      purchaseOrderNumber,
      shipTo,
      lines: [{ sku, quantity: "1" }],
    },
  });
}

let placed = "";
let placedAt = "";

test("availability of two SKUs", async () => {
  const { data, error, response } = await client.POST("/v1/availability:check", {
    body: {
      customerId,
      currencyCode: "EUR",
      shipTo: { regionCode: "DE", postalCode: "20457" },
      lines: [
        { sku: "SKU-00001", quantity: "2" },
        { sku: "SKU-00002", quantity: "1" },
      ],
    },
  });
  assert.equal(response.status, 200, JSON.stringify(error));
  assert.deepEqual(
    data?.lines?.map((l) => l.sku),
    ["SKU-00001", "SKU-00002"],
  );
  assert.ok(Number(data?.lines?.[0]?.availableQuantity) > 0, "SKU-00001 is available");
});

test("an order placed with an Idempotency-Key, and its replay", async () => {
  const key = randomUUID();
  const first = await placeOrder(key, `PO-${run}-1`);
  assert.equal(first.response.status, 200, JSON.stringify(first.error));
  assert.equal(first.data?.state, "STATE_ACCEPTED_PENDING_ERP");
  assert.equal(first.response.headers.get("Idempotent-Replayed"), null);
  placed = first.data?.name ?? "";

  const replay = await placeOrder(key, `PO-${run}-1`);
  assert.equal(replay.response.status, 200, JSON.stringify(replay.error));
  assert.equal(replay.data?.name, placed, "the replay answers the same order");
  assert.equal(replay.response.headers.get("Idempotent-Replayed"), "true");
});

test("get the order", async () => {
  const { data, error, response } = await client.GET("/v1/orders/{order}", {
    params: { path: { order: orderId(placed) } },
  });
  assert.equal(response.status, 200, JSON.stringify(error));
  assert.equal(data?.name, placed);
  assert.equal(data?.customerId, customerId);
  assert.equal(data?.purchaseOrderNumber, `PO-${run}-1`);
  placedAt = data?.createTime ?? "";
});

test("get the order again with If-None-Match: 304 without a body", async () => {
  const first = await client.GET("/v1/orders/{order}", { params: { path: { order: orderId(placed) } } });
  assert.equal(first.response.status, 200, JSON.stringify(first.error));
  const etag = first.response.headers.get("ETag");
  assert.ok(etag, `GET of an order answers its ETag (its etag field is ${JSON.stringify(first.data?.etag)})`);
  const { data, error, response } = await client.GET("/v1/orders/{order}", {
    params: { path: { order: orderId(placed) }, header: { "If-None-Match": etag } },
  });
  // The validator fails a 304 that carries a body.
  assert.equal(response.status, 304, JSON.stringify(error));
  assert.equal(data, undefined);
  assert.ok(!error, `no error body: ${JSON.stringify(error)}`);
});

test("list orders with a filter", async () => {
  assert.ok(placedAt, "the order has a create time");
  const { data, error, response } = await client.GET("/v1/orders", {
    params: { query: { filter: `customer_id = "${customerId}" AND create_time >= "${placedAt}"` } },
  });
  assert.equal(response.status, 200, JSON.stringify(error));
  const orders = data?.orders ?? [];
  assert.ok(
    orders.some((o) => o.name === placed),
    `${placed} is listed`,
  );
  for (const o of orders) assert.equal(o.customerId, customerId);
});

test("shipments of the order", async () => {
  // The order ships once the ERP confirmed it and fulfillment allocated it.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { data, error, response } = await client.GET("/v1/orders/{order}/shipments", {
      params: { path: { order: orderId(placed) } },
    });
    assert.equal(response.status, 200, JSON.stringify(error));
    const shipments = data?.shipments ?? [];
    if (shipments.length > 0) {
      for (const s of shipments) assert.match(s.name ?? "", new RegExp(`^${placed}/shipments/[^/]+$`));
      return;
    }
    assert.ok(Date.now() < deadline, `no shipment of ${placed} within 30s`);
    await sleep(200);
  }
});

test("cancel an order: a stale If-Match is a 412 and changes nothing, its ETag cancels it", async () => {
  const order = await placeOrder(randomUUID(), `PO-${run}-2`);
  assert.equal(order.response.status, 200, JSON.stringify(order.error));
  const path = { order: orderId(order.data?.name) };
  const cancel = (ifMatch: string) =>
    client.POST("/v1/orders/{order}:cancel", {
      params: { path, header: { "Idempotency-Key": randomUUID(), "If-Match": ifMatch } },
      body: { reason: "changed my mind" },
    });

  const stale = await cancel('"stale"');
  assert.equal(stale.data, undefined);
  assert.equal(stale.response.status, 412);
  assert.equal(stale.error?.code, 10);
  const info = stale.error?.details?.find((d) => d["@type"] === "type.googleapis.com/google.rpc.ErrorInfo");
  assert.equal(info?.reason, "ERROR_REASON_CONCURRENT_MODIFICATION");

  // The order moves on by itself (the ERP confirms it within moments),
  // which changes its ETag: a 412 then means "re-read and retry", as the
  // error says, and a storefront does exactly that.
  let answer;
  for (let attempt = 1; ; attempt++) {
    const current = await client.GET("/v1/orders/{order}", { params: { path } });
    assert.equal(current.response.status, 200, JSON.stringify(current.error));
    assert.notEqual(current.data?.state, "STATE_CANCELLED", "a failed precondition changes nothing");
    const etag = current.response.headers.get("ETag");
    assert.ok(etag, `GET of an order answers its ETag (its etag field is ${JSON.stringify(current.data?.etag)})`);
    answer = await cancel(etag);
    if (answer.response.status !== 412 || attempt === 3) break;
  }
  const { data, error, response } = answer;
  assert.equal(response.status, 200, JSON.stringify(error));
  assert.equal(data?.state, "STATE_CANCELLED");
  assert.equal(data?.cancelReason, "changed my mind");
});

test("a method a path does not serve is a 405 with Allow", async () => {
  // The document has no PUT to type, so a typed GET is sent as a PUT: the
  // validator checks the answer against the 405 every operation of the path
  // declares.
  const { error, response } = await client.GET("/v1/orders", {
    fetch: (request) => fetch(new Request(request, { method: "PUT" })),
  });
  assert.equal(response.status, 405, JSON.stringify(error));
  const allow = (response.headers.get("Allow") ?? "").split(",").map((m) => m.trim());
  for (const m of ["GET", "POST"]) assert.ok(allow.includes(m), `Allow: ${allow} lists ${m}`);
});

test("an unknown query parameter is a 400 naming it", async () => {
  // customerId is a filter term, not a query parameter: the typed query
  // cannot hold it, so the query string is written by hand.
  const { data, error, response } = await client.GET("/v1/orders", {
    querySerializer: () => `customerId=${encodeURIComponent(customerId)}`,
  });
  assert.equal(data, undefined);
  assert.equal(response.status, 400);
  assert.equal(error?.code, 3);
  const badRequest = error?.details?.find((d) => d["@type"] === "type.googleapis.com/google.rpc.BadRequest");
  const violations = badRequest?.fieldViolations as { field: string; reason?: string }[] | undefined;
  assert.deepEqual(
    violations?.map((v) => [v.field, v.reason]),
    [["customerId", "UNKNOWN_PARAMETER"]],
  );
});

test("an unknown SKU is a 400 with the error shape", async () => {
  const { data, error, response } = await placeOrder(randomUUID(), `PO-${run}-3`, "SKU-99999");
  assert.equal(data, undefined);
  assert.equal(response.status, 400);
  assert.equal(error?.code, 3);
  assert.equal(error?.correlationId, response.headers.get("X-Correlation-Id"));
  const info = error?.details?.find((d) => d["@type"] === "type.googleapis.com/google.rpc.ErrorInfo");
  assert.equal(info?.reason, "ERROR_REASON_UNKNOWN_SKU");
  const badRequest = error?.details?.find((d) => d["@type"] === "type.googleapis.com/google.rpc.BadRequest");
  // details items are google.protobuf.Any: open objects the document cannot type.
  const violations = badRequest?.fieldViolations as { field: string }[] | undefined;
  assert.deepEqual(
    violations?.map((v) => v.field),
    ["order.lines[0].sku"],
  );
});
