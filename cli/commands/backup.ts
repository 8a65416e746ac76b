import type { Command } from "commander";
import { systemClock } from "../../src/clock.js";
import { backupDatabase } from "../../src/flows/backup.js";
import { restoreDatabase } from "../../src/flows/restore.js";
import { dataDirOf, type GlobalOptions, operator, printJson, progressLine, withDataDir, withStore } from "../context.js";

const head = (h: { seq: number; hash: string } | null) => (h ? `${h.seq}:${h.hash}` : null);

export function registerBackup(program: Command): void {
  withDataDir(program.command("backup"))
    .description("copy the database, consistently, while the server runs")
    .requiredOption("--out <file>", "the backup file to write (never overwritten; mode 0600)")
    .option("--json", "print what was written as JSON")
    .addHelpText(
      "after",
      "\nThe CA keys in a backup stay sealed: restoring needs this data directory's master.key (or the\npassphrase), so keep those apart from the backups. `tessera restore --from FILE` puts one back.",
    )
    .action(async (opts: GlobalOptions & { out: string; json?: boolean }) => {
      await withStore(opts, async (store) => {
        const progress = progressLine("pages copied");
        const result = await backupDatabase(store, opts.out, {
          actor: operator(),
          onProgress: (copied) => progress.update(copied),
        });
        progress.done();
        if (opts.json) {
          return printJson({ file: result.file, bytes: result.bytes, sha256: result.sha256, audit_head: head(result.auditHead) });
        }
        process.stdout.write(
          `backed up ${result.bytes.toLocaleString("en-US")} bytes to ${result.file}, sha256 ${result.sha256}; audit head ${head(result.auditHead) ?? "none"}\n`,
        );
      });
    });

  withDataDir(program.command("restore"))
    .description("replace the database with a backup (every server on this data directory stopped)")
    .requiredOption("--from <file>", "a file written by `tessera backup`")
    .option(
      "--replay <log>",
      "shipped log (the server's JSON log, or audit archive files): re-apply the revocations and entry deletions made after the backup (repeatable, any order)",
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option("--json", "print what was done as JSON")
    .addHelpText(
      "after",
      "\nWhat happened after the backup is lost: certificates and tokens issued since (their holders\n" +
        "must attest again: renewal needs a recorded certificate), revocations and entry deletions (give\n" +
        "the shipped logs with --replay to apply them again), rotations. CRL numbers continue above any\n" +
        "used since, unused join tokens expire, and the replaced database is kept beside it. Start the\n" +
        "servers again afterwards.",
    )
    .action(async (opts: GlobalOptions & { from: string; replay: string[]; json?: boolean }) => {
      const result = await restoreDatabase(dataDirOf(opts), opts.from, {
        clock: systemClock,
        env: process.env,
        actor: operator(),
        replay: opts.replay,
      });
      const replayed = result.replayed;
      if (opts.json) {
        return printJson({
          restored_head: head(result.restoredHead),
          replaced_database: result.replacedBy,
          crls_renumbered: result.crlsRenumbered,
          join_tokens_expired: result.joinTokensExpired,
          sha256: result.sha256,
          replayed: replayed
            ? {
                rows: replayed.rows,
                through_seq: replayed.throughSeq,
                revoked: replayed.revoked,
                entries_deleted: replayed.entriesDeleted,
              }
            : null,
        });
      }
      process.stdout.write(
        `restored ${opts.from} (audit head ${head(result.restoredHead) ?? "none"})${result.replacedBy ? `; the database it replaced is kept as ${result.replacedBy}` : ""}\n` +
          `${result.crlsRenumbered} CRL(s) will be rebuilt with numbers above any used since; ${result.joinTokensExpired} unused join token(s) expired\n` +
          (replayed
            ? `replayed ${replayed.rows} audit row(s) from the logs${replayed.throughSeq ? ` (through ${replayed.throughSeq})` : ""}: ${replayed.revoked} certificate(s) revoked again, ${replayed.entriesDeleted} entry deletion(s)\n`
            : "revocations made after the backup are not in it: revoke those certificates again, or restore with --replay LOG\n"),
      );
    });
}
