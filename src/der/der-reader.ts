/**
 * A strict, allocation-light DER reader. It returns views into the input so
 * callers can keep the exact encoded bytes of a part (e.g. the signed
 * CertificationRequestInfo) without re-encoding. Every malformation throws
 * DerError, which callers map to a 4xx.
 */

export class DerError extends Error {
  override name = "DerError";
}

export interface Tlv {
  readonly tag: number;
  /** Offset of the tag byte in the source buffer. */
  readonly start: number;
  /** Offset of the first content byte. */
  readonly contentStart: number;
  /** Offset just past the content. */
  readonly end: number;
  /** The content bytes (a view). */
  readonly content: Buffer;
  /** The complete encoding, tag to end (a view). */
  readonly raw: Buffer;
}

/**
 * The views are made on first use: a Buffer view costs more than reading a
 * TLV's header, and most TLVs (a CRL's entries, a CSR's fields) are only
 * walked by their offsets.
 */
class TlvAt implements Tlv {
  private contentView: Buffer | undefined;
  private rawView: Buffer | undefined;

  constructor(
    private readonly source: Buffer,
    readonly tag: number,
    readonly start: number,
    readonly contentStart: number,
    readonly end: number,
  ) {}

  get content(): Buffer {
    this.contentView ??= this.source.subarray(this.contentStart, this.end);
    return this.contentView;
  }

  get raw(): Buffer {
    this.rawView ??= this.source.subarray(this.start, this.end);
    return this.rawView;
  }
}

export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Reads one TLV at `offset` within `buf[offset, limit)`. */
export function readTlv(buf: Buffer, offset = 0, limit = buf.length): Tlv {
  if (offset >= limit) throw new DerError("unexpected end of data");
  const tag = buf[offset] as number;
  if ((tag & 0x1f) === 0x1f) throw new DerError("multi-byte tags are not supported");
  let pos = offset + 1;
  if (pos >= limit) throw new DerError("truncated length");
  const first = buf[pos++] as number;
  let length: number;
  if (first < 0x80) {
    length = first;
  } else {
    const count = first & 0x7f;
    if (count === 0) throw new DerError("indefinite length is not DER");
    if (count > 4) throw new DerError("length too large");
    if (pos + count > limit) throw new DerError("truncated length");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (buf[pos++] as number);
    if (length < 0x80 || (count > 1 && buf[pos - count] === 0)) {
      throw new DerError("non-minimal length encoding");
    }
  }
  const end = pos + length;
  if (end > limit) throw new DerError("content runs past the end of its container");
  return new TlvAt(buf, tag, offset, pos, end);
}

/** Reads a TLV and checks its tag. */
export function expectTlv(buf: Buffer, offset: number, limit: number, tag: number, what: string): Tlv {
  const t = readTlv(buf, offset, limit);
  if (t.tag !== tag) {
    throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, found 0x${t.tag.toString(16)}`);
  }
  return t;
}

/** Splits the content of a constructed TLV into its children. */
export function children(parent: Tlv, source: Buffer): Tlv[] {
  const out: Tlv[] = [];
  let pos = parent.contentStart;
  while (pos < parent.end) {
    const child = readTlv(source, pos, parent.end);
    out.push(child);
    pos = child.end;
  }
  return out;
}

/** Parses `buf` as exactly one TLV with nothing trailing. */
export function readWhole(buf: Buffer, tag: number, what: string): Tlv {
  const t = expectTlv(buf, 0, buf.length, tag, what);
  if (t.end !== buf.length) throw new DerError(`${what}: trailing data`);
  return t;
}

export function decodeOid(content: Buffer): string {
  if (content.length === 0) throw new DerError("empty OID");
  const arcs: number[] = [];
  let value = 0;
  for (let i = 0; i < content.length; i++) {
    const b = content[i] as number;
    if (value === 0 && b === 0x80) throw new DerError("non-minimal OID arc");
    value = value * 128 + (b & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) throw new DerError("OID arc too large");
    if (!(b & 0x80)) {
      arcs.push(value);
      value = 0;
    } else if (i === content.length - 1) {
      throw new DerError("truncated OID");
    }
  }
  const first = arcs[0] as number;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join(".");
}

/** The bytes of a BIT STRING whose unused-bit count must be zero. */
export function bitStringBytes(t: Tlv): Buffer {
  if (t.tag !== Tag.BIT_STRING || t.content.length === 0) throw new DerError("bad BIT STRING");
  if (t.content[0] !== 0) throw new DerError("BIT STRING with unused bits");
  return t.content.subarray(1);
}
