import type { Command } from "commander";
import { auditRowJson, readAuditArchive } from "../../src/audit/audit-archive.js";
import { parseAuditAnchor, verifyAuditChain } from "../../src/audit/audit-chain.js";
import { verifyAuditTable } from "../../src/audit/verify-table.js";
import { systemClock } from "../../src/clock.js";
import { parseDuration } from "../../src/duration.js";
import { TesseraError } from "../../src/errors.js";
import { archiveAudit } from "../../src/flows/archive-audit.js";
import type { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { AuditArchive, AuditRecord } from "../../src/store/store.js";
import {
  type GlobalOptions,
  iso,
  operator,
  printJson,
  printJsonArray,
  printTableStream,
  progressLine,
  wholeNumber,
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

export function registerAudit(program: Command): void {
  const audit = program.command("audit").description("the tamper-evident audit log");
  withDataDir(audit.command("list"))
    .description("show the audit log, oldest first")
    .option("--after <seq>", "only rows after this sequence number", "0")
    .option("--limit <n>", "at most this many rows")
    .option("--json", "print as JSON")
    .action(async (opts: GlobalOptions & { after: string; limit?: string; json?: boolean }) => {
      const after = wholeNumber(opts.after, "--after");
      const limit = opts.limit === undefined ? undefined : wholeNumber(opts.limit, "--limit");
      await withStore(opts, async (store) => {
        const rows = take(store.auditRows(after), limit);
        if (opts.json) {
          return printJsonArray(
            (function* () {
              for (const r of rows) yield auditRowJson(r);
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
    .option(
      "--archive <file>",
      "archive files written by `audit archive`, oldest first: checked with the table as one chain from the first row (repeatable)",
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option("--json", "print the verdict as JSON")
    .action(async (opts: GlobalOptions & { anchor?: string; archive: string[]; json?: boolean }) => {
      const anchor = opts.anchor === undefined ? undefined : parseAuditAnchor(opts.anchor);
      if (opts.anchor !== undefined && !anchor) {
        throw new TesseraError(
          "invalid_argument",
          `--anchor must be SEQ:HASH (a row number and its 64-hex hash), not "${opts.anchor}"`,
        );
      }
      await withStore(opts, async (store) => {
        const archives = await store.auditArchives();
        const newest = archives.at(-1);
        const progress = progressLine("audit rows checked");
        const verdict =
          opts.archive.length > 0
            ? verifyAuditChain(filesThenTable(opts.archive, archives, store), { anchor, onProgress: progress.update })
            : await verifyAuditTable(store, { anchor, onProgress: progress.update });
        progress.done();
        const unchecked = opts.archive.length === 0 && newest ? newest.throughSeq : 0;
        if (opts.json) {
          printJson(
            verdict.ok
              ? {
                  ok: true,
                  rows: verdict.rows,
                  head: verdict.head ? `${verdict.head.seq}:${verdict.head.hash}` : null,
                  archived_through: newest?.throughSeq ?? 0,
                }
              : { ok: false, rows: verdict.rows, bad_seq: verdict.badSeq, problem: verdict.problem },
          );
        }
        if (!verdict.ok) throw new TesseraError("conflict", `audit log altered at row ${verdict.badSeq}: ${verdict.problem}`);
        if (!opts.json) {
          const head = verdict.head ? `, head ${verdict.head.seq}:${verdict.head.hash}` : "";
          const archived = unchecked
            ? ` (rows 1-${unchecked} are archived: pass their files with --archive to check them too)`
            : "";
          process.stdout.write(`audit log intact: ${verdict.rows} rows${head}${anchor ? ", anchor matches" : ""}${archived}\n`);
        }
      });
    });

  withDataDir(audit.command("archive"))
    .description(
      "move the start of the audit log to a file: rows older than --older-than, checked, written as JSON Lines, then deleted from the database",
    )
    .requiredOption("--older-than <duration>", "archive rows made longer ago than this, e.g. 90d")
    .requiredOption("--out <file>", "the archive file to write (never overwritten)")
    .option("--json", "print what was archived as JSON")
    .addHelpText(
      "after",
      "\nOnly rows the server has already written to its structured log are archived. Keep the files:\n`audit verify --archive FILE...` checks them and the database as one chain.",
    )
    .action(async (opts: GlobalOptions & { olderThan: string; out: string; json?: boolean }) => {
      const olderThanMs = parseDuration(opts.olderThan);
      await withStore(opts, async (store) => {
        const progress = progressLine("audit rows archived");
        const result = await archiveAudit(
          { store, clock: systemClock },
          { olderThanMs, file: opts.out, actor: operator(), onProgress: progress.update },
        );
        progress.done();
        if ("nothing" in result) {
          if (opts.json) return printJson({ archived: 0, reason: result.nothing });
          process.stdout.write(`nothing archived: ${result.nothing}\n`);
          return;
        }
        if (opts.json) {
          return printJson({
            archived: result.rows,
            from_seq: result.fromSeq,
            through_seq: result.throughSeq,
            head: `${result.throughSeq}:${result.headHash}`,
            file: opts.out,
            file_sha256: result.fileSha256,
            deleted: result.deleted,
          });
        }
        process.stdout.write(
          `archived rows ${result.fromSeq}-${result.throughSeq} (${result.rows}) to ${opts.out}, sha256 ${result.fileSha256}; head ${result.throughSeq}:${result.headHash}\n`,
        );
      });
    });
}

/**
 * Rows of the archive files, then the table's rows after them. Each archive
 * recorded in the database must end in one of the files with the head hash
 * it recorded, and the files must reach the newest archive.
 */
function* filesThenTable(files: string[], archives: AuditArchive[], store: SqliteStore): Generator<AuditRecord> {
  const heads = new Map(archives.map((a) => [a.throughSeq, a.headHash]));
  let last = 0;
  for (const file of files) {
    for (const row of readAuditArchive(file)) {
      const head = heads.get(row.seq);
      if (head !== undefined && head !== row.hash) {
        throw new TesseraError("conflict", `audit log altered at row ${row.seq}: it is not the head the archive recorded`);
      }
      last = row.seq;
      yield row;
    }
  }
  const newest = archives.at(-1)?.throughSeq ?? 0;
  if (last < newest) {
    throw new TesseraError(
      "invalid_argument",
      `the archive files end at row ${last}, but rows up to ${newest} were archived: give every archive file, oldest first`,
    );
  }
  yield* store.auditRows(last);
}
