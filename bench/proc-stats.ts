import { readFileSync } from "node:fs";

/** The process and all its descendants (Linux /proc). */
export function processTree(pid: number): number[] {
  const out = [pid];
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
    for (const k of kids) out.push(...processTree(k));
  } catch {}
  return out;
}

/** CPU seconds (user + system) used so far by a process tree. */
export function cpuSeconds(pid: number): number {
  let ticks = 0;
  for (const p of processTree(pid)) {
    try {
      const fields = readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {}
  }
  return ticks / 100;
}

/** Sum of peak resident set sizes (VmHWM) of a process tree, in MiB. */
export function peakRssMiB(pid: number): number {
  let kb = 0;
  for (const p of processTree(pid)) {
    try {
      kb += Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, "utf8"))?.[1] ?? 0);
    } catch {}
  }
  return kb / 1024;
}
