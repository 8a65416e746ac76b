import type { Signer } from "../crypto/signer.js";
import { bitString, explicit, sequence, smallInteger } from "../der/der-writer.js";
import { distinguishedName } from "./extensions.js";

/**
 * A PKCS#10 request for the signer's key, signed by it (proof of possession).
 * It names nothing: Tessera takes the identity from attestation alone.
 */
export function buildCsr(signer: Signer, commonName = "tessera-agent"): Buffer {
  const info = sequence(smallInteger(0), distinguishedName([["CN", commonName]]), signer.spki, explicit(0));
  return sequence(info, signer.algorithmIdentifier, bitString(signer.signX509(info)));
}
