import { exportJWK, type JWK } from "jose";
import type { LoadedCaKey } from "../ca/ca-keys.js";

export interface PublishedJwk extends JWK {
  kid: string;
  alg: string;
  use: string;
}

const cache = new WeakMap<LoadedCaKey["signer"], JWK>();

/** The public JWK of a key (memoised: keys never change). */
export async function publicJwk(key: LoadedCaKey): Promise<JWK> {
  let jwk = cache.get(key.signer);
  if (!jwk) {
    jwk = await exportJWK(key.signer.publicKey);
    cache.set(key.signer, jwk);
  }
  return jwk;
}

/** A JWT signing key as published in the JWKS. */
export async function jwtSigningJwk(key: LoadedCaKey): Promise<PublishedJwk> {
  return { ...(await publicJwk(key)), kid: key.record.id, alg: key.signer.jwsAlgorithm, use: "sig" };
}
