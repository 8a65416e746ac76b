/**
 * A minimal DER encoder. Each function returns the complete TLV as a Buffer so
 * that structures compose by nesting calls; hot paths precompute the constant
 * parts once and only encode what varies per certificate.
 */

/** Encodes a DER length (definite form). */
export function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  let n = length;
  while (n > 0) {
    bytes.unshift(n & 0xff);
    n = Math.floor(n / 256);
  }
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** Number of bytes a DER length header takes for a content of `length` bytes. */
export function lengthSize(length: number): number {
  if (length < 0x80) return 1;
  let n = length;
  let size = 1;
  while (n > 0) {
    size++;
    n = Math.floor(n / 256);
  }
  return size;
}

/** Writes a DER length into `out` at `offset`; returns the new offset. */
export function writeLength(out: Buffer, offset: number, length: number): number {
  if (length < 0x80) {
    out[offset] = length;
    return offset + 1;
  }
  const size = lengthSize(length) - 1;
  out[offset] = 0x80 | size;
  let n = length;
  for (let i = size; i >= 1; i--) {
    out[offset + i] = n & 0xff;
    n = Math.floor(n / 256);
  }
  return offset + size + 1;
}

export function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(content.length), content]);
}

export function sequence(...items: Buffer[]): Buffer {
  return tlv(0x30, Buffer.concat(items));
}

export function set(...items: Buffer[]): Buffer {
  return tlv(0x31, Buffer.concat(items));
}

/** Context-specific constructed tag `[n]` (EXPLICIT wrapping). */
export function explicit(n: number, ...items: Buffer[]): Buffer {
  return tlv(0xa0 | n, Buffer.concat(items));
}

/** Context-specific primitive tag `[n]` (IMPLICIT on a primitive type). */
export function implicitPrimitive(n: number, content: Buffer): Buffer {
  return tlv(0x80 | n, content);
}

export function boolean(value: boolean): Buffer {
  return Buffer.from([0x01, 0x01, value ? 0xff : 0x00]);
}

export function nullValue(): Buffer {
  return Buffer.from([0x05, 0x00]);
}

/** INTEGER from a small non-negative number. */
export function smallInteger(value: number): Buffer {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError("smallInteger: out of range");
  const bytes: number[] = [];
  let n = value;
  do {
    bytes.unshift(n & 0xff);
    n = Math.floor(n / 256);
  } while (n > 0);
  if (bytes[0] !== undefined && bytes[0] & 0x80) bytes.unshift(0);
  return tlv(0x02, Buffer.from(bytes));
}

/** INTEGER from unsigned big-endian magnitude bytes (leading zeros trimmed, sign byte added). */
export function unsignedInteger(magnitude: Buffer): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  let body = magnitude.subarray(start);
  if (body.length === 0) body = Buffer.from([0]);
  if ((body[0] as number) & 0x80) body = Buffer.concat([Buffer.from([0]), body]);
  return tlv(0x02, body);
}

export function octetString(content: Buffer): Buffer {
  return tlv(0x04, content);
}

/** BIT STRING with zero unused bits. */
export function bitString(content: Buffer): Buffer {
  return tlv(0x03, Buffer.concat([Buffer.from([0]), content]));
}

/** BIT STRING holding named bits (bit 0 = most significant bit of the first byte), minimally encoded. */
export function namedBitString(bits: number[]): Buffer {
  if (bits.length === 0) return Buffer.from([0x03, 0x01, 0x00]);
  const highest = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const bit of bits) bytes[Math.floor(bit / 8)] = (bytes[Math.floor(bit / 8)] as number) | (0x80 >> (bit % 8));
  const last = bytes[bytes.length - 1] as number;
  let unused = 0;
  while (unused < 8 && !(last & (1 << unused))) unused++;
  return tlv(0x03, Buffer.concat([Buffer.from([unused]), bytes]));
}

export function objectIdentifier(dotted: string): Buffer {
  const parts = dotted.split(".").map((p) => {
    if (!/^\d+$/.test(p)) throw new RangeError(`bad OID ${dotted}`);
    return Number(p);
  });
  if (parts.length < 2) throw new RangeError(`bad OID ${dotted}`);
  const out: number[] = [];
  const arcs = [(parts[0] as number) * 40 + (parts[1] as number), ...parts.slice(2)];
  for (const arc of arcs) {
    const chunk: number[] = [];
    let n = arc;
    do {
      chunk.unshift(n & 0x7f);
      n = Math.floor(n / 128);
    } while (n > 0);
    for (let i = 0; i < chunk.length - 1; i++) chunk[i] = (chunk[i] as number) | 0x80;
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

export function utf8String(value: string): Buffer {
  return tlv(0x0c, Buffer.from(value, "utf8"));
}

export function ia5String(value: string): Buffer {
  return tlv(0x16, Buffer.from(value, "ascii"));
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

/** RFC 5280 Time: UTCTime through 2049, GeneralizedTime from 2050; always whole seconds in UTC. */
export function time(date: Date): Buffer {
  const y = date.getUTCFullYear();
  const rest =
    pad(date.getUTCMonth() + 1, 2) +
    pad(date.getUTCDate(), 2) +
    pad(date.getUTCHours(), 2) +
    pad(date.getUTCMinutes(), 2) +
    pad(date.getUTCSeconds(), 2) +
    "Z";
  if (y >= 1950 && y < 2050) return tlv(0x17, Buffer.from(pad(y % 100, 2) + rest, "ascii"));
  return tlv(0x18, Buffer.from(pad(y, 4) + rest, "ascii"));
}
