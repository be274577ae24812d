/* global module */
/**
 * Dependency rules, checked by `npm run lint` (depcruise over packages/*\/src, stacks, scripts, bench and tests).
 *
 * Workspace imports (`@archive/core/names/fileName`) go through the symlinks in node_modules/@archive/* and each
 * package's `"exports": {"./*": "./src/*.ts"}`; they are resolved to the real files (packages/core/src/...), so the
 * rules below name real paths. A workspace import that does not resolve is itself an error, so a resolution failure
 * can never hide a forbidden import.
 */

/** A module by name, whether it resolved into node_modules (its package or its @types) or not at all (types only). */
const modulePath = (name) => `(^|node_modules/)(@types/)?${name}(/|$)`;

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "A cycle of imports (type-only ones included): break it by moving the shared part into its own module.",
      from: {},
      to: { circular: true },
    },
    {
      name: "core-not-to-outer-packages",
      severity: "error",
      comment:
        "packages/core is the domain: it must not import packages/local, packages/functions, packages/cli or stacks/ " +
        "(they depend on core, not the reverse).",
      from: { path: "^packages/core/src/" },
      to: { path: ["^packages/(local|functions|cli)/", "^stacks/", "^@archive/(local|functions|cli)(/|$)"] },
    },
    {
      name: "core-not-to-lambda-or-middy",
      severity: "error",
      comment:
        "packages/core must not depend on Lambda's event types (aws-lambda) nor on middy: handlers and their " +
        "middleware belong in packages/functions.",
      from: { path: "^packages/core/src/" },
      to: { path: [modulePath("aws-lambda"), modulePath("@middy/[^/]+")] },
    },
    {
      name: "functions-not-to-local-or-cli",
      severity: "error",
      comment:
        "packages/functions is what is deployed: it must not import the local emulation (packages/local) nor the CLI " +
        "(packages/cli).",
      from: { path: "^packages/functions/src/" },
      to: { path: ["^packages/(local|cli)/", "^@archive/(local|cli)(/|$)"] },
    },
    {
      name: "workspace-import-resolves",
      severity: "error",
      comment:
        "An @archive/* import that does not resolve to a file: fix the path (packages export ./src/*.ts), or the " +
        "rules above could not see where it goes.",
      from: {},
      to: { couldNotResolve: true, path: "^@archive/" },
    },
  ],
  options: {
    doNotFollow: { path: "(^|/)node_modules/" },
    // node_modules is not excluded, only not followed: an import of a package must stay visible to the rules.
    exclude: { path: "^(\\.sst|cdk\\.out|synth|coverage|test-results|bench/\\.cache)/" },
    // Count `import type` too: a type-only import of aws-lambda in core is as much a violation as a value import.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    // Report real paths (packages/local/src/ports.ts), not the node_modules/@archive/* symlinks.
    preserveSymlinks: false,
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      mainFields: ["module", "main", "types", "typings"],
      extensions: [".ts", ".d.ts", ".js", ".mjs", ".cjs", ".json"],
    },
  },
};
