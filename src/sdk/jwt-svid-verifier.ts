import { type VerifiedJwtSvid, verifyJwtSvid } from "../jwt/verify-jwt-svid.js";
import { JwksCache, type JwksCacheOptions } from "./jwks-cache.js";

export interface JwtSvidVerifierOptions extends JwksCacheOptions {
  /** The audience this service answers to. */
  audience: string;
  /** Require this issuer (`iss`), e.g. Tessera's public URL. */
  issuer?: string;
}

/** Verifies JWT-SVIDs presented to a service, with nothing but the JWKS URL. */
export class JwtSvidVerifier {
  readonly jwks: JwksCache;

  constructor(private readonly opts: JwtSvidVerifierOptions) {
    this.jwks = new JwksCache(opts);
  }

  verify(token: string, audience = this.opts.audience): Promise<VerifiedJwtSvid> {
    return verifyJwtSvid(token, this.jwks.getKey, { audience, issuer: this.opts.issuer });
  }
}
