import { expect } from "vitest";
import { type CsrKey, opensslCsr } from "./openssl.js";
import { runCli, type TestServer } from "./server.js";

export interface WorkloadSvid {
  spiffe_id: string;
  serial: string;
  certificate: string;
  chain: string;
  bundle: string;
  expires_at: string;
  /** The workload's private key (PEM), made by openssl. */
  keyPem: string;
}

/** Creates a join token with the CLI. */
export function joinToken(server: Pick<TestServer, "dataDir">, spiffeId: string, extra: string[] = []): string {
  const r = runCli(["token", "create", "--spiffe-id", spiffeId, ...extra, "--data-dir", server.dataDir]);
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim();
}

/** A workload's boot: its own key and CSR, a join token, an X.509-SVID. */
export async function bootWorkload(
  server: TestServer,
  spiffeId: string,
  dir: string,
  key: CsrKey = "ec-p256",
): Promise<WorkloadSvid> {
  const { csrPem, keyPem } = opensslCsr(dir, key);
  const reply = await server.request("/v1/svid/x509", {
    body: { csr: csrPem, attestation: { type: "join_token", token: joinToken(server, spiffeId) } },
  });
  expect(reply.status, reply.text()).toBe(201);
  return { ...reply.json<Omit<WorkloadSvid, "keyPem">>(), keyPem };
}

/** Many join tokens at once, straight through the store (for tests whose server runs in another process). */
export async function makeTokens(dataDir: string, spiffeId: string, n: number): Promise<string[]> {
  const { SqliteStore } = await import("../../src/store/sqlite/sqlite-store.js");
  const { createJoinToken } = await import("../../src/flows/create-join-token.js");
  const { systemClock } = await import("../../src/clock.js");
  const store = new SqliteStore(`${dataDir}/tessera.db`, { now: () => Date.now() });
  try {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      out.push(
        (
          await createJoinToken(
            { store, clock: systemClock, trustDomain: "example.org" },
            { spiffeId, ttlMs: 3_600_000, actor: "test" },
          )
        ).token,
      );
    }
    return out;
  } finally {
    store.close();
  }
}
