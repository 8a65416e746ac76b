/**
 * Measures CRL builds in a process of its own, so the peak memory is this
 * build's alone: the kernel's high-water mark of resident memory (VmHWM) is
 * reset just before each build (/proc/self/clear_refs) and read after it.
 * Prints one JSON line: the first build after opening the data directory
 * (cold caches, nothing freed to reuse) and a rebuild after one more
 * revocation (what a running server does).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { openCa } from "../src/ca/open-ca.js";
import { systemClock } from "../src/clock.js";
import { CrlService } from "../src/crl/crl-service.js";

export interface CrlBuildFigures {
  seconds: number;
  /** Peak resident memory above what the process held before the build. */
  extraBytes: number;
  crlBytes: number;
}

function statusKb(field: "VmRSS" | "VmHWM"): number {
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? 0);
}

async function measure(build: () => Promise<void>, crlBytes: () => number): Promise<CrlBuildFigures> {
  global.gc?.();
  writeFileSync("/proc/self/clear_refs", "5");
  const before = statusKb("VmRSS");
  const t0 = performance.now();
  await build();
  const seconds = (performance.now() - t0) / 1000;
  return { seconds, extraBytes: (statusKb("VmHWM") - before) * 1024, crlBytes: crlBytes() };
}

async function main(dataDir: string): Promise<void> {
  const { store, ca } = await openCa(dataDir, {}, systemClock);
  const crl = new CrlService(store, ca, systemClock);
  const size = () => crl.get()?.der.length ?? 1;
  const first = await measure(() => crl.refresh(), size);
  const victim = (
    store.db.prepare("SELECT serial FROM certificates WHERE revoked_at IS NULL LIMIT 1").get() as { serial: string } | undefined
  )?.serial;
  if (!victim) throw new Error("no unrevoked certificate left to revoke");
  await store.revoke({ serial: victim }, 1, Date.now(), { actor: "bench", action: "cert.revoke", subject: victim, details: {} });
  const rebuild = await measure(() => crl.refresh(), size);
  store.close();
  process.stdout.write(`${JSON.stringify({ first, rebuild })}\n`);
}

if (process.argv[2]) await main(process.argv[2]);
