import { hash } from "node:crypto";
import { bitStringBytes, children, readWhole, Tag } from "../der/der-reader.js";

/** SHA-1 over the subjectPublicKey BIT STRING contents of a DER SPKI (RFC 5280 §4.2.1.2 method 1). */
export function keyIdentifierOf(spki: Buffer): Buffer {
  const outer = readWhole(spki, Tag.SEQUENCE, "SubjectPublicKeyInfo");
  const [, subjectPublicKey] = children(outer, spki);
  if (!subjectPublicKey) throw new Error("SubjectPublicKeyInfo without a key");
  return hash("sha1", bitStringBytes(subjectPublicKey), "buffer");
}
