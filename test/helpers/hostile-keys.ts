import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { bitString, explicit, objectIdentifier, sequence, smallInteger } from "../../src/der/der-writer.js";
import { OID } from "../../src/der/oids.js";
import { distinguishedName } from "../../src/x509/extensions.js";
import { pemEncode } from "../../src/x509/pem.js";

/** The SubjectPublicKeyInfo of an EC "key" that is the point at infinity (encoded as the single octet 00). */
export function infinitySpki(curveOid: string = OID.prime256v1): Buffer {
  return sequence(sequence(objectIdentifier(OID.ecPublicKey), objectIdentifier(curveOid)), bitString(Buffer.from([0])));
}

/** A PEM CSR carrying `spki`, with a signature that proves nothing: what matters is how its key is taken. */
export function csrWithKey(spki: Buffer): string {
  const info = sequence(smallInteger(0), distinguishedName([["CN", "hostile"]]), spki, explicit(0));
  const signature = bitString(Buffer.from("3006020101020101", "hex"));
  return pemEncode(sequence(info, sequence(objectIdentifier(OID.ecdsaWithSHA256)), signature), "CERTIFICATE REQUEST");
}

/**
 * A DSA SubjectPublicKeyInfo whose public key is a negative INTEGER (found by fuzzing): OpenSSL imports
 * it, and Node 20 aborts the whole process when asked for its details (Assertion failed: (dsa) != nullptr).
 */
export const ABORTING_DSA_SPKI = sequence(
  sequence(objectIdentifier("1.2.840.10040.4.1"), sequence(smallInteger(259), smallInteger(7), smallInteger(2))),
  bitString(Buffer.from("0201ff", "hex")),
);

/** A P-256 key with its curve's parameters spelled out, as `openssl ec -param_enc explicit` writes it (RFC 5480 wants the curve's name). */
export function explicitCurveSpki(): Buffer {
  const pem = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey.export({ type: "spki", format: "pem" }) as string;
  const out = execFileSync("openssl", ["ec", "-pubin", "-pubout", "-param_enc", "explicit", "-outform", "DER"], {
    input: pem,
    stdio: ["pipe", "pipe", "ignore"],
  });
  return Buffer.from(out);
}
