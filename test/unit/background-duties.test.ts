import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { type Duty, DutyRunner, FIRST_BACKOFF_MS, MAX_BACKOFF_MS, REPEAT_LOG_MS } from "../../src/background-duties.js";

interface LogEntry {
  level: number;
  duty: string;
  msg: string;
  failures: number;
  retry_in_ms?: number;
  err?: { message: string };
}

function harness(crl: () => Promise<void>) {
  const lines: LogEntry[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line) as LogEntry) });
  const ran: string[] = [];
  let now = 1_000_000;
  const duties: Duty[] = [
    { name: "first", run: async () => void ran.push("first") },
    {
      name: "CRL",
      run: async () => {
        ran.push("CRL");
        await crl();
      },
    },
    { name: "renewal", run: async () => void ran.push("renewal") },
  ];
  const failures: string[] = [];
  const runner = new DutyRunner(duties, logger, { now: () => now, onFailure: (duty) => failures.push(duty) });
  return {
    lines,
    ran,
    failures,
    runner,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe("background duties", () => {
  it("runs every duty in order, logs a failure under the duty's name, and goes on", async () => {
    const h = harness(async () => {
      throw new Error("disk full");
    });
    expect(await h.runner.runRound()).toEqual(["CRL"]);
    expect(h.ran).toEqual(["first", "CRL", "renewal"]);
    expect(h.failures).toEqual(["CRL"]);
    expect(h.lines).toHaveLength(1);
    expect(h.lines[0]).toMatchObject({
      level: 50,
      duty: "CRL",
      msg: "background duty failed: CRL",
      failures: 1,
      retry_in_ms: FIRST_BACKOFF_MS,
      err: { message: "disk full" },
    });
  });

  it("retries a failing duty with exponential backoff while the others run every round, then says when it recovered", async () => {
    let broken = true;
    const h = harness(async () => {
      if (broken) throw new Error("disk full");
    });
    const crlRuns = () => h.ran.filter((d) => d === "CRL").length;
    await h.runner.runRound();
    expect(crlRuns()).toBe(1);
    h.advance(FIRST_BACKOFF_MS - 1);
    expect(await h.runner.runRound()).toEqual([]); // skipped, not failed again
    expect(crlRuns()).toBe(1);
    expect(h.ran.filter((d) => d === "renewal")).toHaveLength(2);
    h.advance(1);
    await h.runner.runRound();
    expect(crlRuns()).toBe(2); // second failure: the wait doubles
    h.advance(2 * FIRST_BACKOFF_MS - 1);
    await h.runner.runRound();
    expect(crlRuns()).toBe(2);
    h.advance(1);
    broken = false;
    expect(await h.runner.runRound()).toEqual([]);
    expect(crlRuns()).toBe(3);
    expect(h.lines.at(-1)).toMatchObject({ level: 30, duty: "CRL", msg: "background duty recovered: CRL", failures: 2 });
    // recovered: back to every round
    await h.runner.runRound();
    expect(crlRuns()).toBe(4);
  });

  it("caps the backoff, and logs a lasting failure again once a minute, or at once when its message changes", async () => {
    let message = "disk full";
    const h = harness(async () => {
      throw new Error(message);
    });
    const logged = () => h.lines.filter((l) => l.msg === "background duty failed: CRL");
    const waits: number[] = [];
    let elapsedSinceLog = 0;
    for (let failure = 1; failure <= 12; failure++) {
      if (failure === 5) message = "database is locked";
      const before = logged().length;
      await h.runner.runRound();
      const wasLogged = logged().length > before;
      // the first failure, a new message, or a minute since the last line
      expect(wasLogged, `failure ${failure}`).toBe(failure === 1 || failure === 5 || elapsedSinceLog >= REPEAT_LOG_MS);
      if (wasLogged) elapsedSinceLog = 0;
      const wait = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (failure - 1));
      waits.push(wait);
      h.advance(wait);
      elapsedSinceLog += wait;
    }
    expect(logged().map((l) => l.retry_in_ms)).toEqual(
      logged().map((l) => Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (l.failures - 1))),
    );
    expect(Math.max(...waits)).toBe(MAX_BACKOFF_MS);
    expect(logged().length).toBeLessThan(12);
    expect(h.failures).toHaveLength(12); // counted every time, logged or not
    expect(logged()[1]).toMatchObject({ failures: 5, err: { message: "database is locked" } });
  });
});
