import { createHash } from "node:crypto";
import type { Request, Response, Router } from "express";
import { spiffeBundle } from "../../ca/spiffe-bundle.js";
import { jwtSigningJwk } from "../../jwt/jwks.js";
import type { HttpDeps } from "../deps.js";

/** Verifiers poll these; a short max-age plus ETag keeps polling cheap and rotation visible. */
function sendJson(req: Request, res: Response, body: unknown, maxAgeSeconds: number): void {
  const text = JSON.stringify(body);
  const etag = `"${createHash("sha256").update(text).digest("base64url").slice(0, 27)}"`;
  res.setHeader("Cache-Control", `public, max-age=${maxAgeSeconds}`);
  res.setHeader("ETag", etag);
  if (req.headers["if-none-match"]?.split(",").some((t) => t.trim() === etag)) {
    res.status(304).end();
    return;
  }
  res.type(res.getHeader("content-type") ? String(res.getHeader("content-type")) : "application/json").send(text);
}

export function mountDiscovery(router: Router, deps: HttpDeps): void {
  router.get("/.well-known/jwks.json", async (req, res) => {
    const keys = await Promise.all(deps.ca.published("jwt").map(jwtSigningJwk));
    res.type("application/jwk-set+json");
    sendJson(req, res, { keys }, 60);
  });

  router.get("/.well-known/openid-configuration", (req, res) => {
    const algs = [...new Set(deps.ca.published("jwt").map((k) => k.signer.jwsAlgorithm))];
    sendJson(
      req,
      res,
      {
        issuer: deps.issuer,
        jwks_uri: `${deps.issuer}/.well-known/jwks.json`,
        id_token_signing_alg_values_supported: algs,
        response_types_supported: ["id_token"],
        subject_types_supported: ["public"],
        scopes_supported: ["openid"],
        claims_supported: ["sub", "aud", "exp", "iat", "iss", "jti"],
      },
      300,
    );
  });

  router.get("/v1/bundle/spiffe", async (req, res) => {
    sendJson(req, res, await spiffeBundle(deps.ca), 60);
  });
}
