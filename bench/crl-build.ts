/**
 * Measures CRL builds in a process of its own, so the peak memory is this
 * build's alone: the kernel's high-water mark of resident memory (VmHWM) is
 * reset just before each build (/proc/self/clear_refs) and read after it.
 * Prints one JSON line: the first build after opening the data directory
 * (cold caches, nothing freed to reuse), a rebuild after one more
 * revocation (what a running server does), and the median of the rebuilds
 * after that (a server that has been rebuilding for a while).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
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

/** Rebuilds after the first one whose median is reported as the steady state (the bench leaves 10 certificates to revoke). */
export const STEADY_REBUILDS = 5;

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
  const rebuildAfterRevocation = async () => {
    const victim = (
      store.db.prepare("SELECT serial FROM certificates WHERE revoked_at IS NULL LIMIT 1").get() as { serial: string } | undefined
    )?.serial;
    if (!victim) throw new Error("no unrevoked certificate left to revoke");
    await store.revoke({ serial: victim }, 1, Date.now(), {
      actor: "bench",
      action: "cert.revoke",
      subject: victim,
      details: {},
    });
    return measure(() => crl.refresh(), size);
  };
  const rebuild = await rebuildAfterRevocation();
  // later rebuilds, once the heap, malloc and SQLite's page cache have grown to what builds need
  const later: CrlBuildFigures[] = [];
  for (let i = 0; i < STEADY_REBUILDS; i++) later.push(await rebuildAfterRevocation());
  const median = (pick: (f: CrlBuildFigures) => number) => later.map(pick).sort((a, b) => a - b)[later.length >> 1] as number;
  const steady: CrlBuildFigures = {
    seconds: median((f) => f.seconds),
    extraBytes: median((f) => f.extraBytes),
    crlBytes: size(),
  };
  store.close();
  process.stdout.write(`${JSON.stringify({ first, rebuild, steady })}\n`);
}

// run as a script only (the bench runner imports STEADY_REBUILDS)
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv[2]) await main(process.argv[2]);
