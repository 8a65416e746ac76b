import { initializeCa } from "../../src/ca/init-ca.js";
import { openCa } from "../../src/ca/open-ca.js";
import { ManualClock } from "../../src/clock.js";

/** A CA initialised in `dataDir` on a manual clock (1 March 2027), opened in this process. */
export async function openManualCa(dataDir: string, ttls: { rootTtlMs: number; caTtlMs: number; jwtKeyTtlMs: number }) {
  const clock = new ManualClock(Date.parse("2027-03-01T00:00:00Z"));
  await initializeCa(dataDir, { trustDomain: "example.org", keyType: "ec-p256", ...ttls }, {}, clock);
  return { clock, ...(await openCa(dataDir, {}, clock)) };
}
