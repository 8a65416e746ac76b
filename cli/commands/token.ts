import type { Command } from "commander";
import { systemClock } from "../../src/clock.js";
import { parseDuration } from "../../src/duration.js";
import { TesseraError } from "../../src/errors.js";
import { createJoinToken, joinTokenId } from "../../src/flows/create-join-token.js";
import { parseSpiffeId } from "../../src/identity/spiffe-id.js";
import { type JoinTokenRecord, type JoinTokenStatus, joinTokenStatus } from "../../src/store/store.js";
import {
  type GlobalOptions,
  iso,
  type ListFilterOptions,
  listFilter,
  operator,
  printJson,
  printTable,
  withDataDir,
  withListFilters,
  withStore,
} from "../context.js";

const STATUSES: readonly JoinTokenStatus[] = ["unused", "used", "expired", "revoked"];

function toJson(t: JoinTokenRecord, now: number) {
  return {
    id: joinTokenId(t.tokenHash),
    spiffe_id: t.spiffeId,
    status: joinTokenStatus(t, now),
    selectors: t.selectors,
    created_at: iso(t.createdAt),
    expires_at: iso(t.expiresAt),
    used_at: t.usedAt === null ? null : iso(t.usedAt),
    used_by: t.usedBySerial,
    revoked_at: t.revokedAt === null ? null : iso(t.revokedAt),
  };
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerToken(program: Command): void {
  const token = program.command("token").description("manage one-time join tokens");
  withDataDir(token.command("create"))
    .description("create a one-time join token for a SPIFFE ID (printed once, stored only as a hash)")
    .requiredOption("--spiffe-id <id>", "identity the token grants")
    .option("--ttl <duration>", "how long the token stays usable", "1h")
    .option("--selector <type:value>", "selector the token attests (repeatable)", collect, [])
    .option("--json", "print the result as JSON")
    .action(async (opts: GlobalOptions & { spiffeId: string; ttl: string; selector: string[]; json?: boolean }) => {
      await withStore(opts, async (store) => {
        const settings = await store.getSettings();
        const result = await createJoinToken(
          { store, clock: systemClock, trustDomain: settings.trust_domain ?? "" },
          { spiffeId: opts.spiffeId, ttlMs: parseDuration(opts.ttl), selectors: opts.selector, actor: operator() },
        );
        if (opts.json) {
          printJson({
            token: result.token,
            id: result.id,
            spiffe_id: result.spiffeId,
            expires_at: result.expiresAt.toISOString(),
          });
        } else process.stdout.write(`${result.token}\n`);
      });
    });

  withListFilters(withDataDir(token.command("list")), STATUSES)
    .description("list join tokens, newest first: id (the start of the token's hash), identity, status — never the token")
    .action(async (opts: ListFilterOptions) => {
      const filter = listFilter(opts, STATUSES);
      await withStore(opts, async (store) => {
        const now = systemClock.now().getTime();
        const tokens = await store.listJoinTokens({ ...filter, now });
        if (opts.json) return printJson(tokens.map((t) => toJson(t, now)));
        printTable(
          ["ID", "SPIFFE ID", "STATUS", "EXPIRES"],
          tokens.map((t) => [joinTokenId(t.tokenHash), t.spiffeId, joinTokenStatus(t, now), iso(t.expiresAt)]),
        );
      });
    });

  withDataDir(token.command("revoke"))
    .description("revoke an unused join token (one that leaked, say), or every unused token of an identity")
    .argument("[id]", "the token's id, as `token list` and `token create --json` show it")
    .option("--spiffe-id <id>", "revoke every unused token of this identity")
    .option("--json", "print what was revoked as JSON")
    .action(async (id: string | undefined, opts: GlobalOptions & { spiffeId?: string; json?: boolean }) => {
      if (!id === !opts.spiffeId) throw new TesseraError("invalid_argument", "give either a token ID or --spiffe-id");
      if (id !== undefined && !/^[0-9a-f]{8,64}$/.test(id)) {
        throw new TesseraError("invalid_argument", "a token id is 8 to 64 lower-case hex digits");
      }
      await withStore(opts, async (store) => {
        const now = systemClock.now().getTime();
        const which = id ? { hashPrefix: id } : { spiffeId: parseSpiffeId(opts.spiffeId as string).toString() };
        const revoked = await store.revokeJoinTokens(which, now, (t) => ({
          actor: operator(),
          action: "token.revoke",
          subject: t.spiffeId,
          details: { token_hash_prefix: joinTokenId(t.tokenHash) },
        }));
        if (opts.json) return printJson(revoked.map((t) => toJson(t, now)));
        if (revoked.length === 0) process.stdout.write("nothing to revoke\n");
        for (const t of revoked) process.stdout.write(`revoked join token ${joinTokenId(t.tokenHash)} ${t.spiffeId}\n`);
      });
    });
}
