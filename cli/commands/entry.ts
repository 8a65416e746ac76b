import type { Command } from "commander";
import { systemClock } from "../../src/clock.js";
import { formatDuration, parseDuration } from "../../src/duration.js";
import { TesseraError } from "../../src/errors.js";
import { createEntry, deleteEntry } from "../../src/identity/entries.js";
import { parseSpiffeId } from "../../src/identity/spiffe-id.js";
import type { EntryRecord } from "../../src/store/store.js";
import { type GlobalOptions, iso, operator, printJson, printTable, withDataDir, withStore } from "../context.js";

const collect = (value: string, previous: string[]) => [...previous, value];

function toJson(e: EntryRecord) {
  return {
    id: e.id,
    spiffe_id: e.spiffeId,
    selectors: e.selectors,
    dns_names: e.dnsNames,
    x509_ttl: e.x509TtlMs === null ? null : formatDuration(e.x509TtlMs),
    jwt_ttl: e.jwtTtlMs === null ? null : formatDuration(e.jwtTtlMs),
    created_at: iso(e.createdAt),
  };
}

function printEntry(e: EntryRecord): void {
  for (const [k, v] of Object.entries(toJson(e))) {
    process.stdout.write(`${k.padEnd(10)} ${Array.isArray(v) ? v.join(", ") : (v ?? "(default)")}\n`);
  }
}

export function registerEntry(program: Command): void {
  const entry = program
    .command("entry")
    .description("manage registration entries: which attested selectors earn which SPIFFE ID")
    .addHelpText(
      "after",
      "\nA workload gets an entry's identity when its attested selectors include all of the entry's selectors.\nIf several match, the one with the most selectors wins, then the smallest SPIFFE ID; a request may name the SPIFFE ID it wants.",
    );

  withDataDir(entry.command("create"))
    .description("create a registration entry")
    .requiredOption("--spiffe-id <id>", "the identity granted")
    .option("--selector <type:value>", "required selector, e.g. k8s:ns:payments (repeatable, at least one)", collect, [])
    .option("--dns <name>", "DNS SAN for the certificate (repeatable)", collect, [])
    .option("--x509-ttl <duration>", "X.509-SVID lifetime (default: the server's)")
    .option("--jwt-ttl <duration>", "JWT-SVID lifetime (default: the server's)")
    .option("--json", "print the entry as JSON")
    .action(
      async (
        opts: GlobalOptions & {
          spiffeId: string;
          selector: string[];
          dns: string[];
          x509Ttl?: string;
          jwtTtl?: string;
          json?: boolean;
        },
      ) => {
        await withStore(opts, async (store) => {
          const settings = await store.getSettings();
          const created = await createEntry(
            { store, clock: systemClock, trustDomain: settings.trust_domain ?? "" },
            {
              spiffeId: opts.spiffeId,
              selectors: opts.selector,
              dnsNames: opts.dns,
              x509TtlMs: opts.x509Ttl === undefined ? undefined : parseDuration(opts.x509Ttl),
              jwtTtlMs: opts.jwtTtl === undefined ? undefined : parseDuration(opts.jwtTtl),
            },
            operator(),
          );
          if (opts.json) printJson(toJson(created));
          else process.stdout.write(`${created.id}\n`);
        });
      },
    );

  withDataDir(entry.command("list"))
    .description("list registration entries")
    .option("--spiffe-id <id>", "only entries for this identity")
    .option("--json", "print as JSON")
    .action(async (opts: GlobalOptions & { spiffeId?: string; json?: boolean }) => {
      await withStore(opts, async (store) => {
        const entries = await store.listEntries({
          spiffeId: opts.spiffeId ? parseSpiffeId(opts.spiffeId).toString() : undefined,
        });
        if (opts.json) return printJson(entries.map(toJson));
        printTable(
          ["ID", "SPIFFE ID", "SELECTORS", "DNS"],
          entries.map((e) => [e.id, e.spiffeId, e.selectors.join(","), e.dnsNames.join(",")]),
        );
      });
    });

  withDataDir(entry.command("show"))
    .description("show one registration entry")
    .argument("<id>", "entry id")
    .option("--json", "print as JSON")
    .action(async (id: string, opts: GlobalOptions & { json?: boolean }) => {
      await withStore(opts, async (store) => {
        const found = await store.getEntry(id);
        if (!found) throw new TesseraError("not_found", `no entry ${id}`);
        if (opts.json) printJson(toJson(found));
        else printEntry(found);
      });
    });

  withDataDir(entry.command("delete"))
    .description("delete a registration entry (its identity can then no longer be obtained or renewed through it)")
    .argument("<id>", "entry id")
    .option("--json", "print the deleted entry as JSON")
    .action(async (id: string, opts: GlobalOptions & { json?: boolean }) => {
      await withStore(opts, async (store) => {
        const removed = await deleteEntry(store, id, operator());
        if (opts.json) printJson(toJson(removed));
        else process.stdout.write(`deleted ${removed.id} (${removed.spiffeId})\n`);
      });
    });
}
