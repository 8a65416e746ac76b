import { TesseraError } from "./errors.js";

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `90s`, `15m`, `1h`, `7d` (also combined, `1h30m`) into milliseconds. */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (trimmed.length === 0 || trimmed.length > 32 || !/^(\d+[smhd])+$/.test(trimmed)) {
    throw new TesseraError("invalid_duration", `invalid duration "${text.slice(0, 40)}": use e.g. 90s, 15m, 1h, 7d`);
  }
  let total = 0;
  for (const [, n, unit] of trimmed.matchAll(/(\d+)([smhd])/g)) {
    total += Number(n) * (UNIT_MS[unit as string] as number);
  }
  if (!Number.isSafeInteger(total) || total <= 0) {
    throw new TesseraError("invalid_duration", `invalid duration "${text}": must be positive`);
  }
  return total;
}

/** Formats milliseconds as the largest exact unit, e.g. 3600000 → "1h". */
export function formatDuration(ms: number): string {
  for (const unit of ["d", "h", "m", "s"]) {
    const size = UNIT_MS[unit] as number;
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${Math.round(ms / 1000)}s`;
}
