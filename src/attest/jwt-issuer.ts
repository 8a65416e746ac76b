import { readFileSync } from "node:fs";
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  decodeJwt,
  errors,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from "jose";
import type { Clock } from "../clock.js";
import type { JwtIssuerConfig } from "../config-file.js";
import { TesseraError } from "../errors.js";
import { pinnedFetch } from "../sdk/pinned-fetch.js";
import type { Attestor, Evidence } from "./attestor.js";

const MAX_TOKEN_BYTES = 16 * 1024;
/** Leeway for exp/nbf/iat between the issuer's clock and ours. */
export const JWT_CLOCK_TOLERANCE_SECONDS = 30;
const SELECTOR_VALUE = /^[\x21-\x7e]{1,255}$/;

function fail(message: string, cause?: unknown): TesseraError {
  return new TesseraError("attestation_failed", `JWT attestation failed: ${message}`, { cause });
}

interface TrustedIssuer {
  config: JwtIssuerConfig;
  keys: JWTVerifyGetKey;
}

function keySet(config: JwtIssuerConfig): JWTVerifyGetKey {
  if (config.jwksFile) {
    let jwks: JSONWebKeySet;
    try {
      jwks = JSON.parse(readFileSync(config.jwksFile, "utf8")) as JSONWebKeySet;
    } catch (e) {
      throw new TesseraError(
        "invalid_argument",
        `cannot read JWKS ${config.jwksFile} for ${config.issuer}: ${(e as Error).message}`,
      );
    }
    return createLocalJWKSet(jwks);
  }
  const fetchImpl = config.jwksCaFile ? pinnedFetch(readFileSync(config.jwksCaFile, "utf8")) : undefined;
  return createRemoteJWKSet(new URL(config.jwksUrl as string), {
    timeoutDuration: 5000,
    cooldownDuration: 30_000,
    cacheMaxAge: 10 * 60_000,
    ...(fetchImpl ? { [customFetch]: fetchImpl } : {}),
  });
}

/** Selectors from a verified token: jwt:iss, jwt:sub, mapped claims, and for Kubernetes the service account. */
export function selectorsFor(config: JwtIssuerConfig, payload: JWTPayload): string[] {
  const out = new Set<string>();
  const add = (type: string, value: unknown) => {
    if (typeof value === "string" && SELECTOR_VALUE.test(value)) out.add(`${type}:${value}`);
  };
  add("jwt:iss", payload.iss);
  add("jwt:sub", payload.sub);
  for (const [claim, name] of Object.entries(config.claimSelectors)) add(`jwt:${name}`, payload[claim]);
  if (config.kind === "kubernetes") {
    const m = /^system:serviceaccount:([a-z0-9-]{1,63}):([a-z0-9.-]{1,253})$/.exec(payload.sub ?? "");
    if (!m) throw fail("not a Kubernetes service-account token (sub is not system:serviceaccount:NS:NAME)");
    add("k8s:ns", m[1]);
    add("k8s:sa", m[2]);
    const k8s = payload["kubernetes.io"] as Record<string, Record<string, unknown> | undefined> | undefined;
    if (k8s && typeof k8s === "object") {
      add("k8s:pod-name", k8s.pod?.name);
      add("k8s:pod-uid", k8s.pod?.uid);
      add("k8s:sa-uid", k8s.serviceaccount?.uid);
      add("k8s:node-name", k8s.node?.name);
    }
  }
  return [...out].sort();
}

/**
 * Attests with a JWT from a trusted external issuer (a Kubernetes projected
 * service-account token, a CI OIDC token, a cloud workload identity token).
 * Strict: the issuer must be configured, and signature, algorithm, `aud`,
 * `exp` and `nbf` (with a small leeway) must all check out.
 */
export class JwtIssuerAttestor implements Attestor {
  readonly type = "jwt";
  private readonly issuers = new Map<string, TrustedIssuer>();

  constructor(
    configs: JwtIssuerConfig[],
    private readonly clock: Clock,
  ) {
    for (const config of configs) this.issuers.set(config.issuer, { config, keys: keySet(config) });
  }

  async attest(evidence: Record<string, unknown>): Promise<Evidence> {
    const token = evidence.token;
    if (typeof token !== "string" || token.length === 0 || token.length > MAX_TOKEN_BYTES) {
      throw fail("token must be a JWT string of at most 16 KiB");
    }
    let claimedIssuer: string | undefined;
    try {
      claimedIssuer = decodeJwt(token).iss;
    } catch (e) {
      throw fail("token is not a JWT", e);
    }
    const trusted = claimedIssuer === undefined ? undefined : this.issuers.get(claimedIssuer);
    if (!trusted) throw fail("the token's issuer is not trusted");
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, trusted.keys, {
        issuer: trusted.config.issuer,
        audience: trusted.config.audience,
        algorithms: trusted.config.algorithms,
        clockTolerance: JWT_CLOCK_TOLERANCE_SECONDS,
        currentDate: this.clock.now(),
        requiredClaims: ["exp", "sub"],
      }));
    } catch (e) {
      if (e instanceof errors.JWKSTimeout)
        throw new TesseraError("unavailable", `the JWKS of ${trusted.config.issuer} cannot be fetched`);
      if (e instanceof errors.JOSEError) throw fail(e.message, e);
      throw fail("token cannot be verified", e);
    }
    return { method: "jwt", selectors: selectorsFor(trusted.config, payload) };
  }
}
