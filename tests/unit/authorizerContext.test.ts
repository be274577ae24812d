import { describe, expect, it } from "vitest";
import type { ApiCaller } from "@archive/core/api/siteTokens";
import { authorizerContextOf, callerFromAuthorizerContext } from "@archive/functions/lib/http";

describe("the authorizer's context", () => {
  it.each<ApiCaller>([
    { kind: "site", site: "sro" },
    { kind: "operator", operator: "ada" },
    { kind: "anonymous" },
    { kind: "unauthenticated", reason: "the token is not valid" },
  ])("carries the caller %j from the authorizer to the route unchanged", (caller) => {
    expect(callerFromAuthorizerContext(authorizerContextOf(caller))).toEqual(caller);
  });

  it("reads a context naming both a site and an operator as nobody, never as either", () => {
    expect(callerFromAuthorizerContext({ site: "sro", operator: "ada" })).toMatchObject({ kind: "unauthenticated" });
  });

  it("reads an empty operator name as nobody", () => {
    expect(callerFromAuthorizerContext({ operator: "" })).toMatchObject({ kind: "unauthenticated" });
  });
});
