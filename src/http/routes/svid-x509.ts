import { issueX509Svid } from "../../flows/issue-x509.js";
import type { HttpDeps } from "../deps.js";
import type { JsonEndpoint } from "../json-endpoints.js";
import { issuanceEndpoint } from "./issuance-endpoint.js";

export function svidX509Endpoint(deps: HttpDeps): JsonEndpoint {
  return issuanceEndpoint(
    deps,
    "/v1/svid/x509",
    "x509",
    (body, peer) =>
      issueX509Svid(deps.issueX509, { csr: body.csr, attestation: body.attestation, spiffeId: body.spiffe_id, peer }),
    (svid) => ({
      spiffe_id: svid.spiffeId,
      serial: svid.serial,
      certificate: svid.certificatePem,
      chain: svid.chainPem,
      bundle: svid.bundlePem,
      expires_at: svid.expiresAt.toISOString(),
    }),
  );
}
