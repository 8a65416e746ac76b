import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { sleep } from "../../src/agent/agent.js";

describe("the agent's sleep", () => {
  it("leaves no abort listener behind, however many times it sleeps", async () => {
    const abort = new AbortController();
    for (let i = 0; i < 20; i++) await sleep(1, abort.signal);
    expect(getEventListeners(abort.signal, "abort")).toHaveLength(0);
  });

  it("wakes when aborted (a minute's sleep would outlast the test's timeout)", async () => {
    const abort = new AbortController();
    const waiting = sleep(60_000, abort.signal);
    abort.abort();
    await expect(waiting).resolves.toBeUndefined();
    expect(getEventListeners(abort.signal, "abort")).toHaveLength(0);
  });
});
