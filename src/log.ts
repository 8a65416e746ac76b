import { type Logger, pino } from "pino";

/** Structured JSON logs (one object per line) on stdout; `silent` for tests that do not read them. */
export function createLogger(level: string = process.env.TESSERA_LOG_LEVEL ?? "info"): Logger {
  return pino({
    level,
    base: { service: "tessera" },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ["token", "*.token", "passphrase", "*.passphrase", "privateKey", "*.privateKey"], censor: "[redacted]" },
  });
}
