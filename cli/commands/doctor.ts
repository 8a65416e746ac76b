import type { Command } from "commander";
import { systemClock } from "../../src/clock.js";
import { diagnose } from "../../src/flows/diagnose.js";
import { dataDirOf, type GlobalOptions, printJson, progressLine, requireInitialized, withDataDir } from "../context.js";

const MARK = { ok: "ok  ", warn: "WARN", fail: "FAIL" } as const;

export function registerDoctor(program: Command): void {
  withDataDir(program.command("doctor"))
    .description("check a data directory: permissions, master key, database, CA keys, CRLs, audit chain")
    .option("--json", "print the checks as JSON")
    .addHelpText("after", "\nExits 1 if any check fails; warnings (a rotation or CRL overdue, say) exit 0.")
    .action(async (opts: GlobalOptions & { json?: boolean }) => {
      const dir = dataDirOf(opts);
      requireInitialized(dir);
      const progress = progressLine("audit rows checked");
      const checks = await diagnose(dir, { clock: systemClock, env: process.env, onAuditProgress: progress.update });
      progress.done();
      const failed = checks.some((c) => c.status === "fail");
      if (failed) process.exitCode = 1;
      if (opts.json) return printJson({ ok: !failed, checks });
      const width = Math.max(...checks.map((c) => c.name.length));
      for (const c of checks) process.stdout.write(`${MARK[c.status]}  ${c.name.padEnd(width)}  ${c.detail}\n`);
    });
}
