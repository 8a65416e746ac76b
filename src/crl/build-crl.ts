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

/**
 * Revoked entries packed into three buffers (the store's RevokedColumns):
 * serials as length byte + big-endian bytes, 4-byte big-endian seconds,
 * one reason byte each.
 */
export interface RevokedList {
  count: number;
  serials: Buffer;
  times: Buffer;
  reasons: Buffer;
}

/** Packs a list of entries. */
export function toRevokedList(entries: RevokedEntry[]): RevokedList {
  const serials = Buffer.concat(
    entries.map((e) => Buffer.concat([Buffer.from([e.serialHex.length / 2]), Buffer.from(e.serialHex, "hex")])),
  );
  const times = Buffer.alloc(entries.length * 4);
  for (const [i, e] of entries.entries()) times.writeUInt32BE(e.revokedAtSeconds, i * 4);
  return { count: entries.length, serials, times, reasons: Buffer.from(entries.map((e) => e.reason)) };
}

export interface CrlRequest {
  issuerName: Buffer;
  number: bigint;
  thisUpdate: Date;
  nextUpdate: Date;
  entries: RevokedEntry[] | RevokedList;
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

/** 1950-01-01 and 2050-01-01 in seconds: UTCTime between them, GeneralizedTime outside (RFC 5280 §5.1.2.4). */
const UTC_TIME_FROM = -631_152_000;
const UTC_TIME_UNTIL = 2_524_608_000;

/** Called once per entry: no Date object. */
function timeSize(seconds: number): number {
  return seconds >= UTC_TIME_FROM && seconds < UTC_TIME_UNTIL ? 15 : 17;
}

/** reasonCode entry extension, precomputed per code (an Extensions SEQUENCE holding one extension). */
const REASON_EXTENSIONS = new Map<number, Buffer>(
  Object.values(REVOCATION_REASONS)
    .filter((c) => c !== 0)
    .map((c) => [c, sequence(extension(OID.cRLReason, false, Buffer.from([0x0a, 0x01, c])))]),
);

/** Sizes of the revokedCertificates SEQUENCE: each entry's content length, and the whole TLV. */
function measure(list: RevokedList): { entryContent: Uint32Array; content: number; tlv: number } {
  const entryContent = new Uint32Array(list.count);
  let content = 0;
  let at = 0;
  for (let i = 0; i < list.count; i++) {
    const len = list.serials[at] as number;
    const serialLen = len > 0 && (list.serials[at + 1] as number) & 0x80 ? len + 1 : Math.max(len, 1);
    at += 1 + len;
    let c = 1 + lengthSize(serialLen) + serialLen + timeSize(list.times.readUInt32BE(i * 4));
    const ext = REASON_EXTENSIONS.get(list.reasons[i] as number);
    if (ext) c += ext.length;
    entryContent[i] = c;
    content += 1 + lengthSize(c) + c;
  }
  return { entryContent, content, tlv: 1 + lengthSize(content) + content };
}

/** Writes the revokedCertificates SEQUENCE at `pos` of `out`; returns the new offset. */
function writeRevoked(out: Buffer, pos: number, list: RevokedList, sizes: ReturnType<typeof measure>): number {
  out[pos++] = 0x30;
  pos = writeLength(out, pos, sizes.content);
  let at = 0;
  let lastSeconds = -1;
  let timeStart = 0;
  let timeLen = 0;
  for (let i = 0; i < list.count; i++) {
    out[pos++] = 0x30;
    pos = writeLength(out, pos, sizes.entryContent[i] as number);
    const len = list.serials[at] as number;
    const sign = len > 0 && (list.serials[at + 1] as number) & 0x80;
    out[pos++] = 0x02;
    pos = writeLength(out, pos, sign ? len + 1 : Math.max(len, 1));
    if (sign) out[pos++] = 0;
    if (len === 0) out[pos++] = 0;
    pos += list.serials.copy(out, pos, at + 1, at + 1 + len);
    at += 1 + len;
    // bulk revocations share a second: copy its encoding from the previous entry
    const seconds = list.times.readUInt32BE(i * 4);
    if (seconds === lastSeconds) {
      pos += out.copy(out, pos, timeStart, timeStart + timeLen);
    } else {
      timeStart = pos;
      pos = writeTime(out, pos, seconds);
      timeLen = pos - timeStart;
      lastSeconds = seconds;
    }
    const ext = REASON_EXTENSIONS.get(list.reasons[i] as number);
    if (ext) pos += ext.copy(out, pos);
  }
  return pos;
}

/** The revokedCertificates SEQUENCE on its own (for tests and small lists). */
export function encodeRevokedCertificates(input: RevokedEntry[] | RevokedList): Buffer {
  const list = Array.isArray(input) ? toRevokedList(input) : input;
  const sizes = measure(list);
  const out = Buffer.allocUnsafe(sizes.tlv);
  writeRevoked(out, 0, list, sizes);
  return out;
}

/**
 * Builds and signs an RFC 5280 v2 CRL; returns its DER. Everything is
 * written into one buffer sized in advance (the revoked list straight into
 * place), so a large CRL costs one buffer of its size.
 */
export function buildCrl(req: CrlRequest, signer: Signer): Buffer {
  const list = Array.isArray(req.entries) ? toRevokedList(req.entries) : req.entries;
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
  const sizes = list.count > 0 ? measure(list) : undefined;
  const content = head.length + (sizes?.tlv ?? 0) + tail.length;
  const tbsLength = 1 + lengthSize(content) + content;
  // One buffer for everything: the TBS is written where it ends up in the
  // CertificateList, so a large CRL is never copied after it is signed.
  const tbsStart = MAX_HEADER;
  const out = Buffer.allocUnsafe(tbsStart + tbsLength + signer.algorithmIdentifier.length + MAX_SIGNATURE_BITSTRING);
  out[tbsStart] = 0x30;
  let pos = writeLength(out, tbsStart + 1, content);
  pos += head.copy(out, pos);
  if (sizes) pos = writeRevoked(out, pos, list, sizes);
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
