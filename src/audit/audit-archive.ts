import { closeSync, openSync, readSync } from "node:fs";
import { StringDecoder } from "node:string_decoder";
import { TesseraError } from "../errors.js";
import type { AuditRecord } from "../store/store.js";

/** A row as `audit list --json` prints it and an archive holds it (`at` in RFC 3339 with milliseconds, so the hashed value is recovered exactly). */
export function auditRowJson(r: AuditRecord): Record<string, unknown> {
  return {
    seq: r.seq,
    at: new Date(r.at).toISOString(),
    actor: r.actor,
    action: r.action,
    subject: r.subject,
    details: r.details,
    prev_hash: r.prevHash,
    hash: r.hash,
  };
}

/** An audit archive is JSON Lines: one row per line, oldest first. */
export function archiveLine(r: AuditRecord): string {
  return `${JSON.stringify(auditRowJson(r))}\n`;
}

/** An audit row from its JSON form (`auditRowJson`), or why it is not one. */
export function auditRowFromJson(v: Record<string, unknown>): AuditRecord | string {
  const at = typeof v.at === "string" ? Date.parse(v.at) : Number.NaN;
  if (
    !Number.isSafeInteger(v.seq) ||
    Number.isNaN(at) ||
    typeof v.actor !== "string" ||
    typeof v.action !== "string" ||
    typeof v.subject !== "string" ||
    typeof v.details !== "object" ||
    v.details === null ||
    typeof v.prev_hash !== "string" ||
    typeof v.hash !== "string"
  ) {
    return "a field is missing or of the wrong type";
  }
  return {
    seq: v.seq as number,
    at,
    actor: v.actor,
    action: v.action,
    subject: v.subject,
    details: v.details as Record<string, unknown>,
    prevHash: v.prev_hash,
    hash: v.hash,
  };
}

function rowOf(line: string, file: string, lineNo: number): AuditRecord {
  const bad = (why: string) => new TesseraError("invalid_argument", `${file}:${lineNo}: not an audit archive row (${why})`);
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw bad("not JSON");
  }
  const row = auditRowFromJson(v);
  if (typeof row === "string") throw bad(row);
  return row;
}

/** The rows of an archive file, read a chunk at a time (an archive may hold millions). */
export function* readAuditArchive(file: string): Generator<AuditRecord> {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (e) {
    throw new TesseraError("invalid_argument", `cannot read ${file}: ${(e as Error).message}`);
  }
  try {
    const chunk = Buffer.alloc(1 << 20);
    // keeps a character split across two chunks whole
    const decoder = new StringDecoder("utf8");
    let carry = "";
    let lineNo = 0;
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null);
      const text = carry + (n === 0 ? decoder.end() : decoder.write(chunk.subarray(0, n)));
      const lines = text.split("\n");
      carry = n === 0 ? "" : (lines.pop() ?? "");
      for (const line of lines) {
        lineNo++;
        if (line.trim() !== "") yield rowOf(line, file, lineNo);
      }
      if (n === 0) return;
    }
  } finally {
    closeSync(fd);
  }
}
