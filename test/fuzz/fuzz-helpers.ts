import { afterAll } from "vitest";
import { DerError } from "../../src/der/der-reader.js";
import { TesseraError } from "../../src/errors.js";

/** Cases per property: small in `npm test`, large in `npm run fuzz` (FUZZ_RUNS). */
export const RUNS = Number(process.env.FUZZ_RUNS ?? 150);

let cases = 0;
let failures = 0;

/** Counts a generated case; the suite prints the tally for the fuzz script's summary. */
export function tally(ok = true): void {
  cases++;
  if (!ok) failures++;
}

export function printTallyAfterAll(name: string): void {
  afterAll(() => {
    process.stdout.write(`fuzz summary: ${name}: ${cases} cases, ${failures} failures\n`);
  });
}

/** The only acceptable way for a parser to fail: a typed, expected error. */
export function isExpectedError(e: unknown): boolean {
  return e instanceof TesseraError || e instanceof DerError;
}
