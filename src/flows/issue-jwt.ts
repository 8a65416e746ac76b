import type { Attestor } from "../attest/attestor.js";
import { type CallerProof, identifyCaller } from "../attest/caller.js";
import type { CaManager } from "../ca/manager.js";
import type { Clock } from "../clock.js";
import { TesseraError } from "../errors.js";
import { JwtSvidMinter, newJti } from "../jwt/mint-jwt-svid.js";
import { ensureRecorded, type Store } from "../store/store.js";

export interface IssueJwtDeps {
  store: Store;
  ca: CaManager;
  clock: Clock;
  attestors: ReadonlyMap<string, Attestor>;
  /** The `iss` of every token: the CA's public URL, also the OIDC issuer. */
  issuer: string;
  defaultTtlMs: number;
}

export interface IssueJwtRequest extends CallerProof {
  audience: unknown;
}

export interface JwtSvid {
  spiffeId: string;
  token: string;
  expiresAt: Date;
}

const MAX_AUDIENCES = 16;
const AUDIENCE = /^[\x21-\x7e]{1,256}$/;

export function parseAudience(value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_AUDIENCES) {
    throw new TesseraError("bad_request", `audience must be an array of 1 to ${MAX_AUDIENCES} strings`);
  }
  for (const a of value) {
    if (typeof a !== "string" || !AUDIENCE.test(a)) {
      throw new TesseraError("bad_request", "each audience must be 1-256 printable characters without spaces");
    }
  }
  return [...new Set(value as string[])];
}

const minters = new WeakMap<object, JwtSvidMinter>();

/**
 * A workload gets a JWT-SVID for the audiences it calls: validate, authenticate
 * (its X.509-SVID over mTLS, or an attestation), sign, record, respond.
 */
export async function issueJwtSvid(deps: IssueJwtDeps, req: IssueJwtRequest): Promise<JwtSvid> {
  // 1. validate
  const audience = parseAudience(req.audience);

  // 2. authenticate
  const identity = await identifyCaller(deps, req, "x509_svid");

  // 3. sign: never valid past the signing key's own life
  const key = deps.ca.activeJwtKey();
  let minter = minters.get(key.signer);
  if (!minter) {
    minter = new JwtSvidMinter(key.signer, key.record.id);
    minters.set(key.signer, minter);
  }
  const now = deps.clock.now().getTime();
  const iat = Math.floor(now / 1000);
  const exp = Math.min(
    Math.floor((now + (identity.jwtTtlMs ?? deps.defaultTtlMs)) / 1000),
    Math.floor(key.record.notAfter / 1000),
  );
  if (exp <= iat) throw new TesseraError("unavailable", "the JWT signing key has expired");
  const jti = newJti(now);
  const token = await minter.mint({ sub: identity.spiffeId, aud: audience, iss: deps.issuer, iat, exp, jti });

  // 4. record: the jti and audience, durably, before the caller sees the token
  const outcome = await deps.store.recordJwtSvid(
    { jti, spiffeId: identity.spiffeId, audience, keyId: key.record.id, issuedAt: now, expiresAt: exp * 1000 },
    {
      actor: `workload:${identity.method}`,
      action: "svid.jwt.issue",
      subject: identity.spiffeId,
      details: { jti, aud: audience, kid: key.record.id },
    },
    identity.joinTokenHash ? { hash: identity.joinTokenHash, now } : undefined,
  );
  ensureRecorded(outcome);

  // 5. respond
  return { spiffeId: identity.spiffeId, token, expiresAt: new Date(exp * 1000) };
}
