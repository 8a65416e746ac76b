/**
 * Tessera's Node SDK: what services import to get and check identities.
 * This index only re-exports; each concept lives in its own module.
 */
export { AGENT_FILES, Agent, type AgentOptions } from "./agent/agent.js";
export { bootstrapBundle } from "./agent/bootstrap-trust.js";
export { type ErrorCode, TesseraError } from "./errors.js";
export { parseSpiffeId, type SpiffeId } from "./identity/spiffe-id.js";
export { type VerifiedJwtSvid, verifyJwtSvid } from "./jwt/verify-jwt-svid.js";
export { FileIdentitySource, type IdentitySource, parseIdentity, type X509Identity } from "./sdk/identity-source.js";
export { JwksCache } from "./sdk/jwks-cache.js";
export { JwtSvidFetcher } from "./sdk/jwt-svid-fetcher.js";
export { JwtSvidVerifier, type JwtSvidVerifierOptions } from "./sdk/jwt-svid-verifier.js";
export {
  type Authorizer,
  authorizeAny,
  authorizeId,
  authorizeMemberOf,
  authorizePathPrefix,
  createMtlsServer,
  MtlsClient,
  peerSpiffeId,
} from "./sdk/mtls.js";
export { pinnedFetch } from "./sdk/pinned-fetch.js";
export { spiffeIdOf } from "./sdk/spiffe-id-of.js";
export { type VerifiedX509Svid, X509SvidVerifier, type X509SvidVerifierOptions } from "./sdk/x509-svid-verifier.js";
