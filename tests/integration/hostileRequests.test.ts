import { describe, expect, it } from "vitest";
import { downloadRoutes } from "@archive/core/api/downloadRoutes";
import { handleApiRequest, type ApiRequest } from "@archive/core/api/handleRequest";
import { readRoutes } from "@archive/core/api/readRoutes";
import { uploadRoutes } from "@archive/core/api/uploadRoutes";
import { createDb } from "@archive/core/platform/postgres";
import { uniqueBase, uniqueSite, useApiServices } from "./apiHarness";

// Requests an attacker (or a broken client) sends: each is a clear 4xx in JSON naming what is wrong, never a 500.

const services = useApiServices();
const routes = { ...readRoutes, ...uploadRoutes, ...downloadRoutes };

function request(method: string, path: string, body?: unknown, headers: Record<string, string> = { "content-type": "application/json" }): ApiRequest {
  return { method, path, query: {}, headers, body: body === undefined ? undefined : JSON.stringify(body), requestId: "hostile-test" };
}

async function send(apiRequest: ApiRequest) {
  const response = await handleApiRequest(services.contextWith({ ALLOW_ANONYMOUS_UPLOADS: "true" }), routes, apiRequest);
  return { status: response.status, body: response.body === "" ? undefined : (JSON.parse(response.body) as unknown) };
}

describe("hostile requests", () => {
  it("refuses a NUL byte in a header keyword or value with a 400 naming the field", async () => {
    const name = `${uniqueBase(uniqueSite())}-EX00.txt`;
    const inValue = await send(request("POST", "/upload", { object_name: name, header: { OBJECT: "M31\u0000" } }));
    const inKeyword = await send(request("POST", "/upload", { object_name: name, header: { "OBJ\u0000": "M31" } }));

    expect(inValue).toMatchObject({ status: 400, body: { field: "header.OBJECT" } });
    expect(inKeyword.status).toBe(400);
    expect(inKeyword.body).toMatchObject({ error: "invalid_input" });
  });

  it("refuses a body that is not declared JSON with 415", async () => {
    const name = `${uniqueBase(uniqueSite())}-EX10.jpg`;
    const reply = await send(request("POST", "/upload", { object_name: name }, { "content-type": "text/plain" }));

    expect(reply).toMatchObject({ status: 415, body: { error: "unsupported_media_type" } });
  });

  it("answers a path that decodes to .. with a 400, and an unknown path with a JSON 404", async () => {
    expect((await send(request("GET", "/image/%2e%2e"))).status).toBe(400);
    expect((await send(request("GET", "/fitsheader/%2e%2e/"))).status).toBe(400);
    expect(await send(request("GET", "/%2e%2e/etc/passwd"))).toMatchObject({ status: 404, body: { error: "not_found" } });
  });
});

describe("a database that is down", () => {
  it("makes reads and header uploads answer 503 with Retry-After, never 500", async () => {
    // Prepare: the same services, a database nobody listens on
    const anonymous = services.contextWith({ ALLOW_ANONYMOUS_UPLOADS: "true" });
    const unreachable = { ...anonymous, db: createDb("postgresql://postgres@127.0.0.1:1/archive", { poolSize: 1 }) };
    const name = `${uniqueBase(uniqueSite())}-EX00.txt`;

    // Act
    const read = await handleApiRequest(unreachable, routes, request("GET", `/${uniqueSite()}/latest_images/5`));
    const upload = await handleApiRequest(unreachable, routes, request("POST", "/upload", { object_name: name, header: { OBJECT: "M31" } }));
    await unreachable.db.destroy();

    // Assess
    for (const reply of [read, upload]) {
      expect(reply.status).toBe(503);
      expect(reply.headers["retry-after"]).toBe("5");
      expect(JSON.parse(reply.body)).toMatchObject({ error: "unavailable" });
    }
  });
});
