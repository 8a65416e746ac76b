import { issueJwtSvid } from "../../flows/issue-jwt.js";
import type { HttpDeps } from "../deps.js";
import type { JsonEndpoint } from "../json-endpoints.js";
import { METRIC } from "../server-metrics.js";

export function svidJwtEndpoint(deps: HttpDeps): JsonEndpoint {
  return {
    path: "/v1/svid/jwt",
    limited: true,
    async handle(body, socket) {
      const started = performance.now();
      const svid = await issueJwtSvid(deps.issueJwt, {
        audience: body.audience,
        attestation: body.attestation,
        spiffeId: body.spiffe_id,
        peer: () => deps.peers.authenticate(socket),
      });
      deps.metrics.count(METRIC.svidsIssued, { type: "jwt" });
      deps.metrics.observe(METRIC.issuanceSeconds, { type: "jwt" }, (performance.now() - started) / 1000);
      return { status: 201, body: { spiffe_id: svid.spiffeId, token: svid.token, expires_at: svid.expiresAt.toISOString() } };
    },
  };
}
