import { afterAll, describe, expect, it } from "vitest";
import { runSync } from "../helpers/run-sync.js";
import { tempDir } from "../helpers/tmp.js";
import { noteProgress, readProgress } from "../setup/progress-file.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe("runSync (the suite's synchronous child runner)", () => {
  it("rejects/a command past its deadline: killed, and the error names it", () => {
    expect(() => runSync("sleep", ["30"], { timeoutMs: 300 })).toThrow("sleep 30 did not finish within 0.3 s and was killed");
  });

  it("returns once the command exits, though a process it left behind still holds its output", () => {
    // with pipes, spawnSync would wait for the background sleep (and then hit the deadline)
    const r = runSync("sh", ["-c", "sleep 120 & echo $!; echo done >&2"], { timeoutMs: 20_000 });
    process.kill(Number(r.stdout.trim()), "SIGKILL");
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("done\n");
  });

  it("passes input and keeps binary output intact", () => {
    const bytes = Buffer.from([0, 255, 1, 128, 10]);
    const r = runSync("cat", [], { input: bytes });
    expect(r.raw.equals(bytes)).toBe(true);
  });
});

describe("progress file (for the stall reporter)", () => {
  it("lists the tests started and not ended, and the last one ended", () => {
    const file = `${tmp.dir}/progress`;
    expect(readProgress(file)).toEqual({ running: [] });
    noteProgress(file, "start", "a > one");
    noteProgress(file, "start", "a > two");
    noteProgress(file, "end", "a > one");
    expect(readProgress(file)).toEqual({ running: ["a > two"], lastFinished: "a > one" });
  });
});
