import type { Clock } from "../clock.js";
import type { Store } from "../store/store.js";

/** How long expired records are kept by default (for `cert list --status expired`, investigations). */
export const DEFAULT_RETENTION_MS = 7 * 86_400_000;

/**
 * Deletes what expired more than `retentionMs` ago: certificates (revoked
 * ones included — they are off the CRL once expired), JWT-SVID records and
 * join tokens. Serials begin with their issuance time and end with 80
 * random bits, and jtis are random 128-bit values, so deleting old rows
 * never makes a reuse plausible.
 */
export async function prune(deps: { store: Store; clock: Clock }, retentionMs: number, actor: string) {
  const before = deps.clock.now().getTime() - retentionMs;
  return deps.store.prune(before, {
    actor,
    action: "data.prune",
    subject: "expired records",
    details: { before: new Date(before).toISOString() },
  });
}
