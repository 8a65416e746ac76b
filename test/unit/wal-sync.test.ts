import { rmSync, writeFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { type SyncCallback, syncFileAt, WalSync } from "../../src/store/sqlite/wal-sync.js";
import { tempDir } from "../helpers/tmp.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** A sync function the test finishes by hand, recording what it was asked. */
function manualSync() {
  const running: SyncCallback[] = [];
  return {
    started: () => running.length,
    finish: (index: number, error: Error | null = null) => running[index]?.(error),
    fn: (_path: string, done: SyncCallback) => {
      running.push(done);
    },
  };
}

describe("WalSync: the WAL made durable off the event loop", () => {
  it("answers a commit only once a sync that began after it has finished", () => {
    const sync = manualSync();
    const wal = new WalSync("/unused", sync.fn);
    const answered: string[] = [];
    wal.afterCommit(() => answered.push("a"));
    expect(sync.started()).toBe(1);
    // b committed while the first sync was under way: that sync may not cover it
    wal.afterCommit(() => answered.push("b"));
    wal.afterCommit(() => answered.push("c"));
    expect(sync.started()).toBe(1);
    sync.finish(0);
    expect(answered).toEqual(["a"]);
    expect(sync.started()).toBe(2); // one more sync, shared by b and c
    sync.finish(1);
    expect(answered).toEqual(["a", "b", "c"]);
    expect(sync.started()).toBe(2);
  });

  it("fails the commits a failed sync covered, and syncs the next ones afresh", () => {
    const sync = manualSync();
    const wal = new WalSync("/unused", sync.fn);
    const results: Array<string | null> = [];
    wal.afterCommit((e) => results.push(e?.message ?? null));
    wal.afterCommit((e) => results.push(e?.message ?? null));
    sync.finish(0, new Error("EIO"));
    expect(results).toEqual(["EIO"]);
    sync.finish(1);
    expect(results).toEqual(["EIO", null]);
  });

  it("syncs a real file, and reports one that is missing", async () => {
    const path = `${tmp.dir}/x.db-wal`;
    writeFileSync(path, "frames");
    await expect(new Promise((resolve) => syncFileAt(path, resolve))).resolves.toBeNull();
    rmSync(path);
    const error = await new Promise<Error | null>((resolve) => syncFileAt(path, resolve));
    expect((error as NodeJS.ErrnoException | null)?.code).toBe("ENOENT");
  });
});
