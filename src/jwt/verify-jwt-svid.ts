import { errors, type JWTVerifyGetKey, jwtVerify } from "jose";
import { TesseraError } from "../errors.js";
import { parseSpiffeId } from "../identity/spiffe-id.js";

/** Algorithms a JWT-SVID may use. Never `none`, never an HMAC. */
export const JWT_SVID_ALGORITHMS = ["ES256", "ES384", "EdDSA", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"];

export interface VerifiedJwtSvid {
  spiffeId: string;
  audience: string[];
  expiresAt: Date;
  issuedAt?: Date;
  issuer?: string;
  jti?: string;
  kid: string;
}

export interface VerifyJwtSvidOptions {
  /** The audience the relying service answers to; the token must name it. */
  audience: string;
  /** Require this `iss`, if set. */
  issuer?: string;
  /** Verification time (default: now). */
  currentDate?: Date;
  /** Allowed clock skew in seconds (default 30). */
  clockToleranceSeconds?: number;
}

function rejected(message: string, cause?: unknown): TesseraError {
  return new TesseraError("unauthenticated", `JWT-SVID rejected: ${message}`, { cause });
}

/**
 * Verifies a JWT-SVID against a key set (local or remote JWKS, from `jose`).
 * Strict: asymmetric algorithms only, `kid` must select a published key,
 * `exp` is required, `aud` must include the expected audience, and `sub`
 * must be a valid SPIFFE ID.
 */
export async function verifyJwtSvid(
  token: string,
  keys: JWTVerifyGetKey,
  options: VerifyJwtSvidOptions,
): Promise<VerifiedJwtSvid> {
  if (typeof token !== "string" || token.length > 16 * 1024) throw rejected("token is not a string of reasonable size");
  // Only canonical base64url: otherwise the spare bits of a segment's last
  // character give many spellings of one token, which defeats replay caches
  // keyed on the token string (found by fuzzing).
  const segments = token.split(".");
  if (segments.length !== 3 || segments.some((seg) => Buffer.from(seg, "base64url").toString("base64url") !== seg)) {
    throw rejected("token is not a compact JWS in canonical base64url");
  }
  try {
    const { payload, protectedHeader } = await jwtVerify(token, keys, {
      algorithms: JWT_SVID_ALGORITHMS,
      audience: options.audience,
      issuer: options.issuer,
      currentDate: options.currentDate,
      clockTolerance: options.clockToleranceSeconds ?? 30,
      requiredClaims: ["exp", "sub", "aud"],
    });
    if (typeof protectedHeader.kid !== "string") throw rejected("token has no kid");
    const spiffeId = parseSpiffeId(String(payload.sub)).toString();
    return {
      spiffeId,
      audience: Array.isArray(payload.aud) ? payload.aud : [String(payload.aud)],
      expiresAt: new Date((payload.exp as number) * 1000),
      issuedAt: payload.iat === undefined ? undefined : new Date(payload.iat * 1000),
      issuer: payload.iss,
      jti: payload.jti,
      kid: protectedHeader.kid,
    };
  } catch (e) {
    if (e instanceof TesseraError) throw e.code === "invalid_spiffe_id" ? rejected(`sub is not a SPIFFE ID (${e.message})`) : e;
    if (e instanceof errors.JOSEError) throw rejected(`${e.code}: ${e.message}`, e);
    throw rejected("token is malformed", e);
  }
}
