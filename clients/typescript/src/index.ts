// Cairn's HTTP API for TypeScript: `paths` and `components` are generated
// from the OpenAPI document (`src/schema.ts`, by openapi-typescript; never
// edited by hand), and requests go through openapi-fetch, typed by them.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

export type { components, paths };
export type Schemas = components["schemas"];

/** A client for the server at `baseUrl` (e.g. `http://127.0.0.1:8080`), sending `apiKey`. */
export function cairnClient(baseUrl: string, apiKey: string) {
  const client = createClient<paths>({ baseUrl });
  client.use({
    onRequest({ request }) {
      request.headers.set("Authorization", `Bearer ${apiKey}`);
      return request;
    },
  });
  return client;
}
