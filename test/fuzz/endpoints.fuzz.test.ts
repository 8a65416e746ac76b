import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateKeyPair } from "../../src/crypto/key-types.js";
import { Signer } from "../../src/crypto/signer.js";
import { buildCsr } from "../../src/x509/build-csr.js";
import { pemEncode } from "../../src/x509/pem.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";
import { bootWorkload } from "../helpers/workload.js";
import { printTallyAfterAll, RUNS, tally } from "./fuzz-helpers.js";

printTallyAfterAll("endpoints");

const tmp = tempDir();
let server: TestServer;
let client: { chain: string; keyPem: string };
const csr = pemEncode(buildCsr(new Signer(generateKeyPair("ec-p256").privateKey)), "CERTIFICATE REQUEST");

beforeAll(async () => {
  server = await startTestServer({ config: { rateLimit: null } });
  client = await bootWorkload(server, "spiffe://example.org/fuzzer", tmp.dir);
});
afterAll(async () => {
  await server.stop();
  tmp.cleanup();
});

/** JSON values biased towards the shapes the endpoints look at. */
const attestation = fc.oneof(
  fc.jsonValue(),
  fc.record(
    {
      type: fc.constantFrom("join_token", "jwt", "x509", "", "JOIN_TOKEN"),
      token: fc.oneof(fc.string({ maxLength: 80 }), fc.jsonValue()),
    },
    { requiredKeys: [] },
  ),
);
const body = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.record(
    {
      csr: fc.oneof(
        fc.constant(csr),
        fc.string({ maxLength: 200 }),
        fc.jsonValue(),
        fc.nat(csr.length - 1).map((n) => csr.slice(0, n)),
      ),
      attestation,
      spiffe_id: fc.oneof(fc.string({ maxLength: 40 }), fc.constant("spiffe://example.org/x"), fc.jsonValue()),
      audience: fc.oneof(fc.array(fc.string({ maxLength: 30 }), { maxLength: 20 }), fc.jsonValue()),
    },
    { requiredKeys: [] },
  ),
);
const raw = fc.oneof(
  body.map((b) => JSON.stringify(b)),
  fc.string({ maxLength: 200 }),
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.constantFrom("", "{", "null", "[]", '{"csr":', "\u0000", '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{}}}'),
);

async function dbCounts(): Promise<string> {
  const { default: Database } = await import("better-sqlite3");
  const db = new Database(`${server.dataDir}/tessera.db`, { readonly: true });
  try {
    return JSON.stringify(
      db
        .prepare(
          "SELECT (SELECT count(*) FROM certificates) c, (SELECT count(*) FROM jwt_svids) j, (SELECT count(*) FROM audit_log) a",
        )
        .get(),
    );
  } finally {
    db.close();
  }
}

describe("fuzz: issuance endpoints answer hostile bodies with a 4xx JSON error and record nothing", () => {
  it.each([
    ["/v1/svid/x509", false],
    ["/v1/svid/jwt", false],
    ["/v1/svid/x509", true],
    ["/v1/svid/jwt", true],
  ])("%s (mTLS: %s)", async (path, mtls) => {
    await fc.assert(
      fc.asyncProperty(
        raw,
        fc.constantFrom("application/json", "application/json; charset=utf-8", "text/plain", ""),
        async (text, type) => {
          const before = await dbCounts();
          const reply = await server.request(path, {
            method: "POST",
            rawBody: text,
            headers: type ? { "content-type": type } : {},
            ...(mtls ? { cert: client.chain, key: client.keyPem } : {}),
          });
          let ok = reply.status < 500;
          if (reply.status >= 400) {
            const parsed = JSON.parse(reply.text()) as { error?: { code?: string; message?: string } };
            ok = ok && typeof parsed.error?.code === "string" && typeof parsed.error.message === "string";
            ok = ok && (await dbCounts()) === before;
          } else {
            // a success must be a real one: an mTLS caller asking for a token or a renewal with a valid CSR
            ok = ok && reply.status === 201 && mtls;
          }
          tally(ok);
          return ok;
        },
      ),
      { numRuns: Math.max(30, Math.floor(RUNS / 2)) },
    );
  });

  it("the server is still healthy afterwards", async () => {
    expect((await server.request("/readyz")).status).toBe(200);
  });
});
