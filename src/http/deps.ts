import type { Logger } from "pino";
import type { X509PeerAuthenticator } from "../attest/x509-peer.js";
import type { CaManager } from "../ca/manager.js";
import type { Clock } from "../clock.js";
import type { CrlService } from "../crl/crl-service.js";
import type { IssueJwtDeps } from "../flows/issue-jwt.js";
import type { IssueX509Deps } from "../flows/issue-x509.js";
import type { Store } from "../store/store.js";
import type { Metrics } from "./metrics.js";
import type { RateLimiter } from "./rate-limit.js";

/** Everything the HTTP routes may use; built once by the composition root. */
export interface HttpDeps {
  store: Store;
  ca: CaManager;
  crl: CrlService;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  issueX509: IssueX509Deps;
  issueJwt: IssueJwtDeps;
  peers: X509PeerAuthenticator;
  /** Public base URL of the API: the JWT issuer and OIDC discovery base. */
  issuer: string;
  maxBodyBytes: number;
  /** Per-client limit on the attestation endpoints, if any. */
  rateLimiter?: RateLimiter;
}
