import { hash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Clock } from "../clock.js";
import { TesseraError } from "../errors.js";
import type { Store } from "../store/store.js";
import type { Attestor, Evidence } from "./attestor.js";

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{16,128}$/;

/** A new join token: 256 bits from the CSPRNG, base64url. */
export function newJoinToken(): string {
  return randomBytes(32).toString("base64url");
}

/** Join tokens are stored only as this hash. */
export function hashJoinToken(token: string): string {
  return hash("sha256", token, "hex");
}

function fail(message: string): TesseraError {
  return new TesseraError("attestation_failed", message);
}

/**
 * Attests with a one-time join token. This only checks the token; it is
 * consumed atomically with recording the certificate, so of any number of
 * concurrent uses exactly one succeeds.
 */
export class JoinTokenAttestor implements Attestor {
  readonly type = "join_token";
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  async attest(evidence: Record<string, unknown>): Promise<Evidence> {
    const token = evidence.token;
    if (typeof token !== "string" || !TOKEN_PATTERN.test(token)) throw fail("join token is malformed");
    const tokenHash = hashJoinToken(token);
    const record = await this.store.getJoinToken(tokenHash);
    // The lookup is by hash, so timing reveals nothing about the token; the
    // explicit comparison guards against a backend with case-folding lookups.
    if (!record || !timingSafeEqual(Buffer.from(record.tokenHash, "hex"), Buffer.from(tokenHash, "hex"))) {
      throw fail("join token is not valid");
    }
    if (record.usedAt !== null) throw new TesseraError("token_used", "join token has already been used");
    if (record.revokedAt !== null) throw fail("join token has been revoked");
    if (record.expiresAt <= this.clock.now().getTime()) throw fail("join token has expired");
    return {
      method: this.type,
      spiffeId: record.spiffeId,
      selectors: record.selectors,
      joinTokenHash: tokenHash,
    };
  }
}
