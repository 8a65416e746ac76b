import type { Command } from "commander";
import { parseAuditAnchor, verifyAuditChain } from "../../src/audit/audit-chain.js";
import { TesseraError } from "../../src/errors.js";
import {
  type GlobalOptions,
  iso,
  printJson,
  printJsonArray,
  printTableStream,
  progressLine,
  withDataDir,
  withStore,
} from "../context.js";

function* take<T>(items: Iterable<T>, limit: number | undefined): Generator<T> {
  if (limit === 0) return;
  let n = 0;
  for (const item of items) {
    yield item;
    if (++n === limit) return;
  }
}

function count(text: string, name: string): number {
  const n = Number(text);
  if (!/^\d{1,15}$/.test(text) || !Number.isSafeInteger(n)) {
    throw new TesseraError("invalid_argument", `${name} must be a whole number, not "${text}"`);
  }
  return n;
}

export function registerAudit(program: Command): void {
  const audit = program.command("audit").description("the tamper-evident audit log");
  withDataDir(audit.command("list"))
    .description("show the audit log, oldest first")
    .option("--after <seq>", "only rows after this sequence number", "0")
    .option("--limit <n>", "at most this many rows")
    .option("--json", "print as JSON")
    .action(async (opts: GlobalOptions & { after: string; limit?: string; json?: boolean }) => {
      const after = count(opts.after, "--after");
      const limit = opts.limit === undefined ? undefined : count(opts.limit, "--limit");
      await withStore(opts, async (store) => {
        const rows = take(store.auditRows(after), limit);
        if (opts.json) {
          return printJsonArray(
            (function* () {
              for (const r of rows) {
                yield {
                  seq: r.seq,
                  at: iso(r.at),
                  actor: r.actor,
                  action: r.action,
                  subject: r.subject,
                  details: r.details,
                  prev_hash: r.prevHash,
                  hash: r.hash,
                };
              }
            })(),
          );
        }
        await printTableStream(
          ["SEQ", "AT", "ACTOR", "ACTION", "SUBJECT"],
          (function* () {
            for (const r of rows) yield [String(r.seq), iso(r.at), r.actor, r.action, r.subject];
          })(),
        );
      });
    });

  withDataDir(audit.command("verify"))
    .description(
      "verify the audit log's hash chain; exits non-zero and names the first bad row if it was altered. Prints the head (SEQ:HASH) to keep as an anchor",
    )
    .option(
      "--anchor <seq:hash>",
      "also require that row SEQ still has HASH (an anchor kept from an earlier verify or the shipped log)",
    )
    .option("--json", "print the verdict as JSON")
    .action(async (opts: GlobalOptions & { anchor?: string; json?: boolean }) => {
      const anchor = opts.anchor === undefined ? undefined : parseAuditAnchor(opts.anchor);
      if (opts.anchor !== undefined && !anchor) {
        throw new TesseraError(
          "invalid_argument",
          `--anchor must be SEQ:HASH (a row number and its 64-hex hash), not "${opts.anchor}"`,
        );
      }
      await withStore(opts, async (store) => {
        const progress = progressLine("audit rows checked");
        const verdict = verifyAuditChain(store.auditRows(), { anchor, onProgress: progress.update });
        progress.done();
        if (opts.json) {
          printJson(
            verdict.ok
              ? { ok: true, rows: verdict.rows, head: verdict.head ? `${verdict.head.seq}:${verdict.head.hash}` : null }
              : { ok: false, rows: verdict.rows, bad_seq: verdict.badSeq, problem: verdict.problem },
          );
        }
        if (!verdict.ok) throw new TesseraError("conflict", `audit log altered at row ${verdict.badSeq}: ${verdict.problem}`);
        if (!opts.json) {
          const head = verdict.head ? `, head ${verdict.head.seq}:${verdict.head.hash}` : "";
          process.stdout.write(`audit log intact: ${verdict.rows} rows${head}${anchor ? ", anchor matches" : ""}\n`);
        }
      });
    });
}
