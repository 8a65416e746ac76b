import { afterAll } from "vitest";
import { killTrackedChildren } from "../helpers/children.js";

// after each test file's own afterAll hooks, and if the test process exits early
afterAll(killTrackedChildren);
process.once("exit", killTrackedChildren);
