import { hashJoinToken, newJoinToken } from "../attest/join-token.js";
import type { Clock } from "../clock.js";
import { TesseraError } from "../errors.js";
import { parseSelector } from "../identity/selector.js";
import { parseSpiffeIdIn } from "../identity/spiffe-id.js";
import type { Store } from "../store/store.js";

export const MAX_JOIN_TOKEN_TTL_MS = 30 * 86_400_000;

/** How operators name a token without holding it: the start of its hash (as the audit log records it). */
export function joinTokenId(tokenHash: string): string {
  return tokenHash.slice(0, 12);
}

export interface CreateJoinTokenRequest {
  spiffeId: string;
  ttlMs: number;
  selectors?: string[];
  actor: string;
}

/** Creates a one-time join token; the token itself is returned once and stored only as a hash. */
export async function createJoinToken(
  deps: { store: Store; clock: Clock; trustDomain: string },
  req: CreateJoinTokenRequest,
): Promise<{ token: string; id: string; spiffeId: string; expiresAt: Date }> {
  // validate
  const id = parseSpiffeIdIn(req.spiffeId, deps.trustDomain).toString();
  const selectors = [...new Set((req.selectors ?? []).map(parseSelector))].sort();
  if (req.ttlMs > MAX_JOIN_TOKEN_TTL_MS) throw new TesseraError("invalid_duration", "join token TTL may be at most 30d");
  // create
  const token = newJoinToken();
  const tokenHash = hashJoinToken(token);
  const now = deps.clock.now().getTime();
  const expiresAt = now + req.ttlMs;
  // record
  await deps.store.insertJoinToken(
    { tokenHash, spiffeId: id, selectors, createdAt: now, expiresAt, usedAt: null, usedBySerial: null, revokedAt: null },
    {
      actor: req.actor,
      action: "token.create",
      subject: id,
      details: { token_hash_prefix: joinTokenId(tokenHash), expires_at: new Date(expiresAt).toISOString() },
    },
  );
  // respond
  return { token, id: joinTokenId(tokenHash), spiffeId: id, expiresAt: new Date(expiresAt) };
}
