import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

/** Every row of docs/THREAT_MODEL.md must name tests that exist, so the table cannot drift from the suite. */
const doc = readFileSync(new URL("../../docs/THREAT_MODEL.md", import.meta.url), "utf8");
const rows = doc.split("\n").filter((line) => line.startsWith("| **"));

interface Reference {
  file: string;
  name: string;
}

function references(row: string): Reference[] {
  const tests = row.split("|").at(-2) ?? "";
  const out: Reference[] = [];
  for (const part of tests.split(/;\s*/)) {
    const file = /`(test\/[^`]+\.test\.ts)`/.exec(part)?.[1];
    if (!file) continue;
    for (const m of part.matchAll(/"([^"]+)"/g)) out.push({ file, name: m[1] as string });
  }
  return out;
}

describe("docs/THREAT_MODEL.md", () => {
  it("has a row for each threat the hardening issue names", () => {
    const threats = rows.map((r) => r.toLowerCase());
    for (const t of [
      "join token",
      "replay",
      "csr substitution",
      "workload key compromise",
      "ca key compromise",
      "rogue operator",
      "downgrade",
      "denial of service",
      "tampering with the database",
    ]) {
      expect(
        threats.some((r) => r.includes(t)),
        t,
      ).toBe(true);
    }
  });

  it.each(rows.map((r) => [/\*\*([^*]+)\*\*/.exec(r)?.[1] ?? r, r]))("row %s names tests that exist", (_, row) => {
    const refs = references(row);
    expect(refs.length).toBeGreaterThan(0);
    for (const { file, name } of refs) {
      expect(existsSync(new URL(`../../${file}`, import.meta.url)), file).toBe(true);
      const source = readFileSync(new URL(`../../${file}`, import.meta.url), "utf8");
      expect(source.includes(`"${name}"`), `${file}: "${name}"`).toBe(true);
    }
  });
});
