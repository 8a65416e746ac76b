import { afterAll, describe, expect, it } from "vitest";
import { startTestServer, waitFor } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";
import { bootWorkload } from "../helpers/workload.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** The samples of one metric family in Prometheus text: series (name and labels) → value. */
function samples(text: string, family: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line.startsWith(family)) continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

describe("/metrics", () => {
  it("has an issuance-latency histogram per SVID type whose buckets add up, counting only what was issued", async () => {
    const server = await startTestServer({});
    try {
      const family = "tessera_svid_issuance_duration_seconds";
      const workload = await bootWorkload(server, "spiffe://example.org/m", tmp.dir);
      for (let i = 0; i < 3; i++) {
        const r = await server.request("/v1/svid/jwt", { body: { audience: ["x"] }, cert: workload.chain, key: workload.keyPem });
        expect(r.status).toBe(201);
      }
      // refused requests are errors, not issuance times
      expect(
        (await server.request("/v1/svid/jwt", { body: { audience: [] }, cert: workload.chain, key: workload.keyPem })).status,
      ).toBe(400);
      const text = (await server.request("/metrics")).text();
      expect(text).toContain(`# TYPE ${family} histogram`);
      const s = samples(text, family);
      for (const [type, issued] of [
        ["x509", 1],
        ["jwt", 3],
      ] as const) {
        expect(s.get(`${family}_count{type="${type}"}`)).toBe(issued);
        expect(s.get(`${family}_bucket{type="${type}",le="+Inf"}`)).toBe(issued);
        expect(s.get(`${family}_sum{type="${type}"}`)).toBeGreaterThan(0);
        const buckets = [...s].filter(([k]) => k.startsWith(`${family}_bucket{type="${type}",`)).map(([, v]) => v);
        expect(buckets.length).toBe(12);
        expect([...buckets].sort((a, b) => a - b)).toEqual(buckets); // cumulative
      }
    } finally {
      await server.stop();
    }
  });

  it("counts the WAL checkpoints made off the request path, and the WAL's frames at the last one", async () => {
    const server = await startTestServer({});
    try {
      await bootWorkload(server, "spiffe://example.org/w", tmp.dir);
      const checkpointed = await waitFor(async () => {
        const text = (await server.request("/metrics")).text();
        const count = samples(text, "tessera_wal_checkpoints_total").get("tessera_wal_checkpoints_total") ?? 0;
        return count > 0 ? text : undefined;
      }, 10_000);
      expect(checkpointed).toBeDefined();
      expect(samples(checkpointed as string, "tessera_wal_frames").get("tessera_wal_frames")).toBeGreaterThan(0);
    } finally {
      await server.stop();
    }
  });
});
