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

export interface CrlRequest {
  issuerName: Buffer;
  number: bigint;
  thisUpdate: Date;
  nextUpdate: Date;
  entries: RevokedEntry[];
}

const DIGITS = "0123456789";

/** Writes UTCTime/GeneralizedTime for `seconds` at `offset`; returns the new offset. */
function writeTime(out: Buffer, offset: number, seconds: number): number {
  const d = new Date(seconds * 1000);
  const y = d.getUTCFullYear();
  const utc = y >= 1950 && y < 2050;
  const fields = [d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()];
  out[offset++] = utc ? 0x17 : 0x18;
  out[offset++] = utc ? 13 : 15;
  if (!utc) {
    out[offset++] = DIGITS.charCodeAt(Math.floor(y / 1000) % 10);
    out[offset++] = DIGITS.charCodeAt(Math.floor(y / 100) % 10);
  }
  out[offset++] = DIGITS.charCodeAt(Math.floor(y / 10) % 10);
  out[offset++] = DIGITS.charCodeAt(y % 10);
  for (const f of fields) {
    out[offset++] = DIGITS.charCodeAt(Math.floor(f / 10));
    out[offset++] = DIGITS.charCodeAt(f % 10);
  }
  out[offset++] = 0x5a; // Z
  return offset;
}

function timeSize(seconds: number): number {
  const y = new Date(seconds * 1000).getUTCFullYear();
  return y >= 1950 && y < 2050 ? 15 : 17;
}

/** reasonCode entry extension, precomputed per code (an Extensions SEQUENCE holding one extension). */
const REASON_EXTENSIONS = new Map<number, Buffer>(
  Object.values(REVOCATION_REASONS)
    .filter((c) => c !== 0)
    .map((c) => [c, sequence(extension(OID.cRLReason, false, Buffer.from([0x0a, 0x01, c])))]),
);

function serialContentLength(hex: string): number {
  const bytes = hex.length / 2;
  return Number.parseInt(hex.slice(0, 2), 16) & 0x80 ? bytes + 1 : bytes;
}

/**
 * Encodes the revokedCertificates SEQUENCE into one pre-sized buffer: two
 * passes (sizes, then bytes), no per-entry allocation beyond the time fields.
 */
export function encodeRevokedCertificates(entries: RevokedEntry[]): Buffer {
  const entryContent = new Uint32Array(entries.length);
  let total = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as RevokedEntry;
    const serialLen = serialContentLength(e.serialHex);
    let content = 1 + lengthSize(serialLen) + serialLen + timeSize(e.revokedAtSeconds);
    const ext = REASON_EXTENSIONS.get(e.reason);
    if (ext) content += ext.length;
    entryContent[i] = content;
    total += 1 + lengthSize(content) + content;
  }
  const out = Buffer.allocUnsafe(1 + lengthSize(total) + total);
  out[0] = 0x30;
  let pos = writeLength(out, 1, total);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as RevokedEntry;
    out[pos++] = 0x30;
    pos = writeLength(out, pos, entryContent[i] as number);
    const serialLen = serialContentLength(e.serialHex);
    out[pos++] = 0x02;
    pos = writeLength(out, pos, serialLen);
    if (serialLen !== e.serialHex.length / 2) out[pos++] = 0;
    pos += out.write(e.serialHex, pos, "hex");
    pos = writeTime(out, pos, e.revokedAtSeconds);
    const ext = REASON_EXTENSIONS.get(e.reason);
    if (ext) pos += ext.copy(out, pos);
  }
  return out;
}

/** Builds and signs an RFC 5280 v2 CRL; returns its DER. */
export function buildCrl(req: CrlRequest, signer: Signer): Buffer {
  const numberBytes = Buffer.from(
    req.number
      .toString(16)
      .padStart(2, "0")
      .replace(/^(.(..)*)$/, "0$1"),
    "hex",
  );
  const parts: Buffer[] = [
    smallInteger(1),
    signer.algorithmIdentifier,
    req.issuerName,
    time(req.thisUpdate),
    time(req.nextUpdate),
  ];
  if (req.entries.length > 0) parts.push(encodeRevokedCertificates(req.entries));
  parts.push(
    explicit(
      0,
      sequence(
        extension(OID.authorityKeyIdentifier, false, sequence(implicitPrimitive(0, signer.keyIdentifier))),
        extension(OID.cRLNumber, false, unsignedInteger(numberBytes)),
      ),
    ),
  );
  const tbs = sequence(...parts);
  return sequence(tbs, signer.algorithmIdentifier, bitString(signer.signX509(tbs)));
}
