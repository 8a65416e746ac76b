import type { Command } from "commander";
import { verifyAuditChain } from "../../src/audit/audit-chain.js";
import { TesseraError } from "../../src/errors.js";
import { type GlobalOptions, iso, printJson, printTable, withDataDir, withStore } from "../context.js";

export function registerAudit(program: Command): void {
  const audit = program.command("audit").description("the tamper-evident audit log");
  withDataDir(audit.command("list"))
    .description("show the audit log, oldest first")
    .option("--after <seq>", "only rows after this sequence number", "0")
    .option("--limit <n>", "at most this many rows")
    .option("--json", "print as JSON")
    .action(async (opts: GlobalOptions & { after: string; limit?: string; json?: boolean }) => {
      await withStore(opts, async (store) => {
        const rows = await store.listAudit({ afterSeq: Number(opts.after), limit: opts.limit ? Number(opts.limit) : undefined });
        if (opts.json) {
          return printJson(
            rows.map((r) => ({
              seq: r.seq,
              at: iso(r.at),
              actor: r.actor,
              action: r.action,
              subject: r.subject,
              details: r.details,
              prev_hash: r.prevHash,
              hash: r.hash,
            })),
          );
        }
        printTable(
          ["SEQ", "AT", "ACTOR", "ACTION", "SUBJECT"],
          rows.map((r) => [String(r.seq), iso(r.at), r.actor, r.action, r.subject]),
        );
      });
    });

  withDataDir(audit.command("verify"))
    .description("verify the audit log's hash chain; exits non-zero and names the first bad row if it was altered")
    .option("--json", "print the verdict as JSON")
    .action(async (opts: GlobalOptions & { json?: boolean }) => {
      await withStore(opts, async (store) => {
        const verdict = verifyAuditChain(await store.listAudit());
        if (opts.json) {
          printJson(verdict.ok ? verdict : { ok: false, rows: verdict.rows, bad_seq: verdict.badSeq, problem: verdict.problem });
        }
        if (!verdict.ok) throw new TesseraError("conflict", `audit log altered at row ${verdict.badSeq}: ${verdict.problem}`);
        if (!opts.json) process.stdout.write(`audit log intact: ${verdict.rows} rows\n`);
      });
    });
}
