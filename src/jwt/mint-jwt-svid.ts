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

/**
 * A fresh `jti`: the time in milliseconds (48 bits), then 80 bits from the
 * CSPRNG: unique and unguessable, and recent tokens share a prefix, so each
 * one recorded lands among the newest entries of the jwt_svids index instead
 * of on a random page of it (one more page written to the WAL per token).
 */
export function newJti(now: number = Date.now()): string {
  const jti = Buffer.from(publicRandomBytes(16));
  jti.writeUIntBE(now, 0, 6);
  return jti.toString("base64url");
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

  /** Signs where the signer hands its hot-path work (Signer.signJwsAsync): this is the hot path. */
  async mint(claims: JwtSvidClaims): Promise<string> {
    const signingInput = `${this.encodedHeader}.${b64url(claims)}`;
    return `${signingInput}.${(await this.signer.signJwsAsync(Buffer.from(signingInput))).toString("base64url")}`;
  }
}
