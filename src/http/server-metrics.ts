import type { CaManager } from "../ca/manager.js";
import type { CrlService, ServedCrl } from "../crl/crl-service.js";
import { Metrics } from "./metrics.js";

/** The names every server process counts under. */
export const METRIC = {
  svidsIssued: "tessera_svid_issued_total",
  issuanceSeconds: "tessera_svid_issuance_duration_seconds",
  httpErrors: "tessera_http_errors_total",
  dutyFailures: "tessera_background_duty_failures_total",
  walCheckpoints: "tessera_wal_checkpoints_total",
  walFrames: "tessera_wal_frames",
  walRestarts: "tessera_wal_restarts_total",
} as const;

/**
 * A server process's metrics: its counters, and gauges read at each scrape
 * from state every worker shares (the served CRLs, the CA keys), so any
 * worker answers them alike.
 */
export function serverMetrics(crl: CrlService, ca: CaManager): Metrics {
  const metrics = new Metrics();
  metrics.describe(METRIC.svidsIssued, "SVIDs issued");
  metrics.describe(METRIC.httpErrors, "HTTP error responses by code");
  metrics.histogram(
    METRIC.issuanceSeconds,
    "Time to issue an SVID, from the parsed request to the response (attestation, signing and the durable record included)",
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  );
  metrics.describe(
    METRIC.dutyFailures,
    "Failed runs of a background duty (key lifecycle, CA reload, CRL, audit shipping, pruning, server certificate renewal) in this process",
  );
  metrics.describe(METRIC.walCheckpoints, "Checkpoints of the database's WAL made by this process's checkpoint thread");
  metrics.describe(
    METRIC.walRestarts,
    "Times this process's checkpoint thread had the WAL start over from its beginning once it grew past 8,000 frames",
  );
  metrics.describe(
    METRIC.walFrames,
    "Frames (pages) in the WAL at this process's last checkpoint; one that keeps growing means checkpoints cannot finish (a long-held read)",
  );
  const crlGauges: Array<[string, string, (c: ServedCrl) => number]> = [
    ["tessera_crl_number", "cRLNumber of the CRL served for each issuing CA", (c) => c.number],
    ["tessera_crl_this_update_timestamp_seconds", "thisUpdate of the CRL served for each issuing CA", (c) => c.thisUpdate / 1000],
    [
      "tessera_crl_next_update_timestamp_seconds",
      "nextUpdate of the CRL served for each issuing CA (a CRL is rebuilt at half its validity: alert well before this)",
      (c) => c.nextUpdate / 1000,
    ],
  ];
  for (const [name, help, value] of crlGauges) {
    metrics.describe(name, help);
    metrics.gauge(name, () => crl.all().map((c) => ({ labels: { issuer: c.issuerId }, value: value(c) })));
  }
  metrics.describe(
    "tessera_ca_key_not_after_timestamp_seconds",
    "Expiry of every CA key (root, intermediate, JWT) by state; an active key close to it means rotation has stalled",
  );
  metrics.gauge("tessera_ca_key_not_after_timestamp_seconds", () =>
    ca.records().map((r) => ({ labels: { id: r.id, kind: r.kind, state: r.state }, value: Math.floor(r.notAfter / 1000) })),
  );
  return metrics;
}
