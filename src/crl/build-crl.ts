import type { Signer } from "../crypto/signer.js";
import {
  bitString,
  explicit,
  implicitPrimitive,
  lengthSize,
  sequence,
  smallInteger,
  time,
  unsignedInteger,
  writeLength,
} from "../der/der-writer.js";
import { OID } from "../der/oids.js";
import { extension } from "../x509/extensions.js";

/** RFC 5280 §5.3.1 reason codes, by their standard names. */
export const REVOCATION_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;
export type RevocationReason = keyof typeof REVOCATION_REASONS;

export function reasonName(code: number): RevocationReason {
  const found = Object.entries(REVOCATION_REASONS).find(([, c]) => c === code);
  return (found?.[0] ?? "unspecified") as RevocationReason;
}

export interface RevokedEntry {
  /** Serial as lower-case hex of its positive magnitude. */
  serialHex: string;
  /** Revocation time in seconds since the epoch. */
  revokedAtSeconds: number;
  reason: number;
}

/** Entries already DER-encoded and concatenated (the store's RevokedEntries). */
export interface EncodedEntries {
  count: number;
  der: Buffer;
}

export interface CrlRequest {
  issuerName: Buffer;
  number: bigint;
  thisUpdate: Date;
  nextUpdate: Date;
  entries: RevokedEntry[] | EncodedEntries;
}

/** reasonCode entry extension, per code (an Extensions SEQUENCE holding one extension); none for unspecified. */
const REASON_EXTENSIONS = new Map<number, Buffer>(
  Object.values(REVOCATION_REASONS)
    .filter((c) => c !== 0)
    .map((c) => [c, sequence(extension(OID.cRLReason, false, Buffer.from([0x0a, 0x01, c])))]),
);

/**
 * Encodes entries of revokedCertificates and concatenates them. A server's
 * CRLs take their entries encoded by SQLite (migration 0007); this is the
 * same encoding for lists held in memory, and the reference it is tested
 * against.
 */
export function encodeRevokedEntries(entries: RevokedEntry[]): EncodedEntries {
  const der = Buffer.concat(
    entries.map((e) => {
      const ext = REASON_EXTENSIONS.get(e.reason);
      return sequence(
        unsignedInteger(Buffer.from(e.serialHex, "hex")),
        time(new Date(e.revokedAtSeconds * 1000)),
        ...(ext ? [ext] : []),
      );
    }),
  );
  return { count: entries.length, der };
}

/**
 * Builds and signs an RFC 5280 v2 CRL; returns its DER. Everything is
 * written into one buffer sized in advance, and the TBS is signed where it
 * lies, so a large CRL costs its encoded entries and one buffer of its size.
 */
export function buildCrl(req: CrlRequest, signer: Signer): Buffer {
  const list = Array.isArray(req.entries) ? encodeRevokedEntries(req.entries) : req.entries;
  const numberBytes = Buffer.from(
    req.number
      .toString(16)
      .padStart(2, "0")
      .replace(/^(.(..)*)$/, "0$1"),
    "hex",
  );
  const head = Buffer.concat([
    smallInteger(1),
    signer.algorithmIdentifier,
    req.issuerName,
    time(req.thisUpdate),
    time(req.nextUpdate),
  ]);
  const tail = explicit(
    0,
    sequence(
      extension(OID.authorityKeyIdentifier, false, sequence(implicitPrimitive(0, signer.keyIdentifier))),
      extension(OID.cRLNumber, false, unsignedInteger(numberBytes)),
    ),
  );
  // revokedCertificates is left out when empty (RFC 5280 §5.1.2.6)
  const revokedTlv = list.count > 0 ? 1 + lengthSize(list.der.length) + list.der.length : 0;
  const content = head.length + revokedTlv + tail.length;
  const tbsLength = 1 + lengthSize(content) + content;
  // One buffer for everything: the TBS is written where it ends up in the
  // CertificateList, so a large CRL is never copied after it is signed.
  const tbsStart = MAX_HEADER;
  const out = Buffer.allocUnsafe(tbsStart + tbsLength + signer.algorithmIdentifier.length + MAX_SIGNATURE_BITSTRING);
  out[tbsStart] = 0x30;
  let pos = writeLength(out, tbsStart + 1, content);
  pos += head.copy(out, pos);
  if (revokedTlv > 0) {
    out[pos++] = 0x30;
    pos = writeLength(out, pos, list.der.length);
    pos += list.der.copy(out, pos);
  }
  pos += tail.copy(out, pos);
  const signature = bitString(signer.signX509(out.subarray(tbsStart, pos)));
  if (signature.length > MAX_SIGNATURE_BITSTRING) throw new Error("signature larger than any supported key makes");
  pos += signer.algorithmIdentifier.copy(out, pos);
  pos += signature.copy(out, pos);
  const total = pos - tbsStart;
  const start = tbsStart - 1 - lengthSize(total);
  out[start] = 0x30;
  writeLength(out, start + 1, total);
  return out.subarray(start, pos);
}

/** Room for the outer SEQUENCE's tag and length (lengths up to 2^32). */
const MAX_HEADER = 6;
/** A signature BIT STRING of the largest supported CA key (RSA-4096: 512 bytes) with room to spare. */
const MAX_SIGNATURE_BITSTRING = 1024;
