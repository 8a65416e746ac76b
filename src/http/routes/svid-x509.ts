import { issueX509Svid } from "../../flows/issue-x509.js";
import type { HttpDeps } from "../deps.js";
import type { JsonEndpoint } from "../json-endpoints.js";
import { METRIC } from "../server-metrics.js";

export function svidX509Endpoint(deps: HttpDeps): JsonEndpoint {
  return {
    path: "/v1/svid/x509",
    limited: true,
    async handle(body, socket) {
      const started = performance.now();
      const svid = await issueX509Svid(deps.issueX509, {
        csr: body.csr,
        attestation: body.attestation,
        spiffeId: body.spiffe_id,
        peer: () => deps.peers.authenticate(socket),
      });
      deps.metrics.count(METRIC.svidsIssued, { type: "x509" });
      deps.metrics.observe(METRIC.issuanceSeconds, { type: "x509" }, (performance.now() - started) / 1000);
      return {
        status: 201,
        body: {
          spiffe_id: svid.spiffeId,
          serial: svid.serial,
          certificate: svid.certificatePem,
          chain: svid.chainPem,
          bundle: svid.bundlePem,
          expires_at: svid.expiresAt.toISOString(),
        },
      };
    },
  };
}
