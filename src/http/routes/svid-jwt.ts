import { issueJwtSvid } from "../../flows/issue-jwt.js";
import type { HttpDeps } from "../deps.js";
import type { JsonEndpoint } from "../json-endpoints.js";
import { issuanceEndpoint } from "./issuance-endpoint.js";

export function svidJwtEndpoint(deps: HttpDeps): JsonEndpoint {
  return issuanceEndpoint(
    deps,
    "/v1/svid/jwt",
    "jwt",
    (body, peer) =>
      issueJwtSvid(deps.issueJwt, { audience: body.audience, attestation: body.attestation, spiffeId: body.spiffe_id, peer }),
    (svid) => ({ spiffe_id: svid.spiffeId, token: svid.token, expires_at: svid.expiresAt.toISOString() }),
  );
}
