import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { runDuties } from "../../src/background-duties.js";

describe("background duties", () => {
  it("runs every duty in order, logs each failure under the duty's name, and goes on", async () => {
    const lines: string[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => lines.push(line) });
    const ran: string[] = [];
    const failed = await runDuties(
      [
        { name: "first", run: async () => void ran.push("first") },
        {
          name: "CRL",
          run: async () => {
            ran.push("CRL");
            throw new Error("disk full");
          },
        },
        { name: "renewal", run: async () => void ran.push("renewal") },
      ],
      logger,
    );
    expect(ran).toEqual(["first", "CRL", "renewal"]);
    expect(failed).toEqual(["CRL"]);
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0] as string) as { level: number; duty: string; msg: string; err: { message: string } };
    expect(entry).toMatchObject({ level: 50, duty: "CRL", msg: "background duty failed: CRL", err: { message: "disk full" } });
  });
});
