// A typed client of the storefront.v1 REST API: openapi-fetch over the types
// openapi-typescript generates from gen/openapi3/storefront.v1.json, so a
// request the contract does not allow fails at compile time.
import createClient, { type Client } from "openapi-fetch";
import type { paths } from "./storefront.js";

export type { components, operations, paths } from "./storefront.js";

/** StorefrontClient calls the storefront.v1 REST API, typed by its OpenAPI document. */
export type StorefrontClient = Client<paths>;

/** StorefrontOptions says where the gateway is and which API key calls it. */
export interface StorefrontOptions {
  /** REST base URL of the gateway, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** API key of a sales channel (or of one B2B customer), sent as `Authorization: Bearer <key>`. */
  apiKey: string;
  /** fetch to send requests with; the global fetch when absent. */
  fetch?: typeof globalThis.fetch;
}

/** createStorefrontClient returns a client that sends every request with the API key. */
export function createStorefrontClient({ baseUrl, apiKey, fetch }: StorefrontOptions): StorefrontClient {
  if (!baseUrl) throw new Error("storefront client: baseUrl is empty");
  if (!apiKey) throw new Error("storefront client: apiKey is empty");
  return createClient<paths>({
    baseUrl,
    headers: { Authorization: `Bearer ${apiKey}` },
    ...(fetch ? { fetch } : {}),
  });
}
