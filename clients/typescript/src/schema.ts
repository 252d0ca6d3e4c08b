// Checks live answers against the OpenAPI document the client is generated
// from, so the document cannot promise what the gateway does not send.
import { Ajv, type ValidateFunction } from "ajv";
import formats from "ajv-formats";
import type { Middleware } from "openapi-fetch";

/** OpenAPIDocument is the part of an OpenAPI 3.0 document the validator reads. */
export interface OpenAPIDocument {
  openapi: string;
  paths: Record<string, Record<string, unknown>>;
}

type JSONObject = Record<string, unknown>;

const isObject = (v: unknown): v is JSONObject => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * responseValidator returns a middleware that validates every response body
 * against the schema the document declares for its operation and status (or
 * the operation's `default`), and fails the call when the status is not
 * declared or the body does not match. Object schemas that do not say
 * otherwise are closed (`additionalProperties: false`): a field the gateway
 * sends but the document does not declare is a mismatch too, since a
 * generated client cannot see it.
 */
export function responseValidator(doc: OpenAPIDocument): Middleware {
  if (!doc.openapi?.startsWith("3.0")) {
    throw new Error(`response validator: OpenAPI ${doc.openapi} document, want 3.0.x`);
  }
  const closedDoc = close(structuredClone(doc));
  // OpenAPI's own keywords (example, discriminator, x-…) are not JSON Schema.
  const ajv = new Ajv({ strict: false, allErrors: true });
  formats.default(ajv);
  ajv.addSchema(closedDoc, "openapi.json");
  const compiled = new Map<string, ValidateFunction>();

  return {
    async onResponse({ request, response, schemaPath }) {
      const call = `${request.method} ${schemaPath} → ${response.status}`;
      const pointer = responseSchemaPointer(closedDoc, schemaPath, request.method.toLowerCase(), response.status);
      if (pointer === undefined) throw new Error(`${call}: status not declared in the OpenAPI document`);
      const text = await response.clone().text();
      if (pointer === null) {
        if (text !== "") throw new Error(`${call}: body ${text} where the document declares none`);
        return undefined;
      }
      const type = response.headers.get("content-type") ?? "";
      if (!type.startsWith("application/json")) throw new Error(`${call}: content type ${type}, want application/json`);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch (err) {
        throw new Error(`${call}: body is not JSON: ${text}`, { cause: err });
      }
      let validate = compiled.get(pointer);
      if (!validate) {
        validate = ajv.compile({ $ref: `openapi.json#${pointer}` });
        compiled.set(pointer, validate);
      }
      if (!validate(body)) {
        throw new Error(`${call}: body does not match ${pointer}: ${ajv.errorsText(validate.errors)}\n${text}`);
      }
      return undefined;
    },
  };
}

/**
 * responseSchemaPointer returns the JSON pointer of the response schema for
 * an operation and status, null when the response is declared without a
 * JSON body, and undefined when the status is not declared.
 */
function responseSchemaPointer(doc: OpenAPIDocument, path: string, method: string, status: number): string | null | undefined {
  const op = doc.paths[path]?.[method];
  if (!isObject(op) || !isObject(op.responses)) return undefined;
  const key = [String(status), `${String(status)[0]}XX`, "default"].find((k) => isObject((op.responses as JSONObject)[k]));
  if (key === undefined) return undefined;
  let pointer = `/paths/${escape(path)}/${method}/responses/${key}`;
  let res = (op.responses as JSONObject)[key];
  // Shared responses are referenced from components/responses.
  while (isObject(res) && typeof res.$ref === "string") {
    pointer = res.$ref.replace(/^#/, "");
    res = resolve(doc, pointer);
  }
  if (!isObject(res) || !isObject(res.content) || !isObject(res.content["application/json"])) return null;
  return `${pointer}/content/${escape("application/json")}/schema`;
}

function resolve(doc: unknown, pointer: string): unknown {
  return pointer
    .split("/")
    .slice(1)
    .reduce<unknown>((node, part) => (isObject(node) ? node[part.replaceAll("~1", "/").replaceAll("~0", "~")] : undefined), doc);
}

function escape(segment: string): string {
  return segment.replaceAll("~", "~0").replaceAll("/", "~1");
}

// close sets additionalProperties: false on every object schema with
// properties that leaves it unset.
function close<T>(node: T): T {
  if (Array.isArray(node)) {
    node.forEach(close);
  } else if (isObject(node)) {
    const schema: JSONObject = node;
    if (schema.type === "object" && isObject(schema.properties) && !("additionalProperties" in schema)) {
      schema.additionalProperties = false;
    }
    Object.values(schema).forEach(close);
  }
  return node;
}
