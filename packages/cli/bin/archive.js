#!/usr/bin/env node
// The CLI is TypeScript run in place (as `npm start` is), so a fresh `npm ci` is all it needs: no build step.
import { register } from "tsx/esm/api";

register();
await import("../src/main.ts");
