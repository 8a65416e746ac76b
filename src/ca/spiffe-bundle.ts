import { publicJwk } from "../jwt/jwks.js";
import type { CaManager } from "./manager.js";

export const SPIFFE_REFRESH_HINT_SECONDS = 300;

/**
 * The trust domain's SPIFFE bundle (SPIFFE Trust Domain and Bundle §4): a JWKS
 * whose roots are `x509-svid` authorities (with x5c) and whose JWT signing
 * keys are `jwt-svid` authorities (with kid).
 */
export async function spiffeBundle(ca: CaManager): Promise<Record<string, unknown>> {
  const x509 = await Promise.all(
    ca.published("x509_root").map(async (k) => ({
      ...(await publicJwk(k)),
      use: "x509-svid",
      x5c: [(k.record.certificateDer as Buffer).toString("base64")],
    })),
  );
  const jwt = await Promise.all(
    ca.published("jwt").map(async (k) => ({ ...(await publicJwk(k)), kid: k.record.id, use: "jwt-svid" })),
  );
  return { keys: [...x509, ...jwt], spiffe_sequence: ca.bundleSequence(), spiffe_refresh_hint: SPIFFE_REFRESH_HINT_SECONDS };
}
