import type { TLSSocket } from "node:tls";
import type { PeerIdentity } from "../../attest/x509-peer.js";
import type { HttpDeps } from "../deps.js";
import type { JsonEndpoint } from "../json-endpoints.js";
import { METRIC } from "../server-metrics.js";

/**
 * An SVID issuance endpoint: rate limited, answers 201 with what `issue`
 * made, and counts and times each issuance under its type.
 */
export function issuanceEndpoint<T>(
  deps: HttpDeps,
  path: string,
  type: "x509" | "jwt",
  issue: (body: Record<string, unknown>, peer: () => Promise<PeerIdentity | undefined>) => Promise<T>,
  reply: (svid: T) => unknown,
): JsonEndpoint {
  return {
    path,
    limited: true,
    async handle(body, socket: TLSSocket) {
      const started = performance.now();
      const svid = await issue(body, () => deps.peers.authenticate(socket));
      deps.metrics.count(METRIC.svidsIssued, { type });
      deps.metrics.observe(METRIC.issuanceSeconds, { type }, (performance.now() - started) / 1000);
      return { status: 201, body: reply(svid) };
    },
  };
}
