import { TesseraError } from "../errors.js";

/** Encodes DER as PEM with 64-character lines. */
export function pemEncode(der: Buffer, label: string): string {
  const b64 = der.toString("base64");
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n\t ]*?)-----END \1-----/g;

/** All PEM blocks in `text`, in order, with their labels. */
export function pemDecodeAll(text: string): Array<{ label: string; der: Buffer }> {
  const out: Array<{ label: string; der: Buffer }> = [];
  for (const m of text.matchAll(BLOCK)) {
    const body = (m[2] as string).replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0) continue;
    out.push({ label: m[1] as string, der: Buffer.from(body, "base64") });
  }
  return out;
}

/** Exactly one PEM block with one of `labels`; anything else is a `code` error. */
export function pemDecodeOne(
  text: string,
  labels: readonly string[],
  code: "invalid_csr" | "bad_request" = "bad_request",
): Buffer {
  const blocks = pemDecodeAll(text).filter((b) => labels.includes(b.label));
  if (blocks.length !== 1) {
    throw new TesseraError(code, `expected exactly one PEM block labelled ${labels[0]}`);
  }
  const der = (blocks[0] as { der: Buffer }).der;
  if (der.length === 0) throw new TesseraError(code, `empty ${labels[0]}`);
  return der;
}
