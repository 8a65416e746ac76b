import { publicRandomBytes } from "../crypto/public-random.js";
import type { Signer } from "../crypto/signer.js";
import { bitString, explicit, sequence, smallInteger, time, unsignedInteger } from "../der/der-writer.js";

/** Everything that goes into a TBSCertificate, already DER-encoded where it is structure. */
export interface TbsParts {
  serial: Buffer;
  issuerName: Buffer;
  subjectName: Buffer;
  notBefore: Date;
  notAfter: Date;
  spki: Buffer;
  /** Complete Extension encodings, in order. */
  extensions: Buffer[];
}

const VERSION_3 = explicit(0, smallInteger(2));

/** Encodes and signs an X.509 v3 certificate; returns its DER. */
export function signCertificate(parts: TbsParts, signer: Signer): Buffer {
  const tbs = encodeTbs(parts, signer.algorithmIdentifier);
  return assembleCertificate(tbs, signer.algorithmIdentifier, signer.signX509(tbs));
}

/** The TBSCertificate to be signed with the algorithm `signatureAlgorithm` (a DER AlgorithmIdentifier). */
export function encodeTbs(parts: TbsParts, signatureAlgorithm: Buffer): Buffer {
  return sequence(
    VERSION_3,
    unsignedInteger(parts.serial),
    signatureAlgorithm,
    parts.issuerName,
    sequence(time(parts.notBefore), time(parts.notAfter)),
    parts.subjectName,
    parts.spki,
    explicit(3, sequence(...parts.extensions)),
  );
}

export function assembleCertificate(tbs: Buffer, signatureAlgorithm: Buffer, signature: Buffer): Buffer {
  return sequence(tbs, signatureAlgorithm, bitString(signature));
}

/**
 * A fresh serial number, always 16 octets: the time in milliseconds (6
 * bytes), then 10 bytes from the CSPRNG (80 bits, above the 64 required).
 * The first byte's top bit is cleared (the INTEGER is positive) and the next
 * one set (so it always encodes in exactly 16 octets; the time needs only 46
 * bits until the year 4199). Time first keeps serials in issuance order, so
 * recording a certificate appends to the serial index instead of touching a
 * random page of it: with a million certificates recorded, issuance stays
 * about as fast as with none.
 */
export function newSerial(now: number = Date.now()): Buffer {
  const serial = Buffer.from(publicRandomBytes(16));
  serial.writeUIntBE(now, 0, 6);
  serial[0] = ((serial[0] as number) & 0x3f) | 0x40;
  return serial;
}
