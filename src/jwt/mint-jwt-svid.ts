import { publicRandomBytes } from "../crypto/public-random.js";
import type { Signer } from "../crypto/signer.js";

export interface JwtSvidClaims {
  sub: string;
  aud: string[];
  iss: string;
  iat: number;
  exp: number;
  jti: string;
}

const b64url = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** A fresh `jti`: 128 bits from the CSPRNG. */
export function newJti(): string {
  return publicRandomBytes(16).toString("base64url");
}

/**
 * Mints JWT-SVIDs (JWS compact, RFC 7515) with one key. The protected header
 * is encoded once; each token costs one JSON encoding and one signature.
 * Tokens are checked against `jose`'s verifier in the tests.
 */
export class JwtSvidMinter {
  private readonly encodedHeader: string;

  constructor(
    private readonly signer: Signer,
    readonly kid: string,
  ) {
    this.encodedHeader = b64url({ alg: signer.jwsAlgorithm, kid, typ: "JWT" });
  }

  get alg(): string {
    return this.signer.jwsAlgorithm;
  }

  /** Signs on the thread pool (Signer.signJwsAsync): this is the hot path. */
  async mint(claims: JwtSvidClaims): Promise<string> {
    const signingInput = `${this.encodedHeader}.${b64url(claims)}`;
    return `${signingInput}.${(await this.signer.signJwsAsync(Buffer.from(signingInput))).toString("base64url")}`;
  }
}
