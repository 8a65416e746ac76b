import type { RunnerTask } from "vitest";
import { afterAll, afterEach, beforeEach } from "vitest";
import { killTrackedChildren } from "../helpers/children.js";
import { noteProgress, progressFile } from "./progress-file.js";

// Servers and agents a test started die with its file: after the file's own afterAll
// hooks, and if the test process exits early.
afterAll(killTrackedChildren);
process.once("exit", killTrackedChildren);

// Which test is running, for the stall reporter (test/setup/stall-reporter.ts).
function fullName(task: RunnerTask): string {
  const names: string[] = [];
  for (let t: RunnerTask | undefined = task; t && t !== task.file; t = t.suite) names.unshift(t.name);
  return names.join(" > ");
}
// one test file per process: its progress file is worked out once
let file: string | undefined;
const progressOf = (task: RunnerTask) => {
  file ??= progressFile(task.file.filepath, process.ppid);
  return file;
};
beforeEach(({ task }) => noteProgress(progressOf(task), "start", fullName(task)));
afterEach(({ task }) => noteProgress(progressOf(task), "end", fullName(task)));
