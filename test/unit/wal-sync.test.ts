import { readdirSync, rmSync, writeFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { HeldFile, type SyncCallback, WalSync } from "../../src/store/sqlite/wal-sync.js";
import { tempDir } from "../helpers/tmp.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** A sync function the test finishes by hand, recording what it was asked. */
function manualSync() {
  const running: SyncCallback[] = [];
  return {
    started: () => running.length,
    finish: (index: number, error: Error | null = null) => running[index]?.(error),
    fn: (done: SyncCallback) => {
      running.push(done);
    },
  };
}

describe("WalSync: the WAL made durable off the event loop", () => {
  it("answers a commit only once a sync that began after it has finished", () => {
    const sync = manualSync();
    const wal = new WalSync(sync.fn);
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
    const wal = new WalSync(sync.fn);
    const results: Array<string | null> = [];
    wal.afterCommit((e) => results.push(e?.message ?? null));
    wal.afterCommit((e) => results.push(e?.message ?? null));
    sync.finish(0, new Error("EIO"));
    expect(results).toEqual(["EIO"]);
    sync.finish(1);
    expect(results).toEqual(["EIO", null]);
  });

  it("syncs a real file through one descriptor, and reports one that is missing", async () => {
    const path = `${tmp.dir}/x.db-wal`;
    writeFileSync(path, "frames");
    const file = new HeldFile(path);
    const sync = () => new Promise<Error | null>((resolve) => file.sync(resolve));
    const before = openDescriptors();
    await expect(sync()).resolves.toBeNull();
    await expect(sync()).resolves.toBeNull();
    expect(openDescriptors() - before).toBe(1);
    // closed while a sync runs: the descriptor goes once that sync is done, and later syncs are refused
    const running = sync();
    file.close();
    await expect(running).resolves.toBeNull();
    expect(openDescriptors()).toBe(before);
    expect((await sync())?.message).toMatch(/is closed/);

    rmSync(path);
    const missing = await new Promise<Error | null>((resolve) => new HeldFile(path).sync(resolve));
    expect((missing as NodeJS.ErrnoException | null)?.code).toBe("ENOENT");
  });
});

function openDescriptors(): number {
  return readdirSync("/proc/self/fd").length;
}
