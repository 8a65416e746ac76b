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
