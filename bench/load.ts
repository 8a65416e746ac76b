/**
 * The load generator: a separate process so the server's CPU is measured
 * alone. Reads a job (JSON in argv), drives it with keep-alive connections at
 * a fixed concurrency, prints one JSON result line.
 */
import { readFileSync } from "node:fs";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent, request } from "node:https";

export interface LoadJob {
  url: string;
  method: "GET" | "POST";
  concurrency: number;
  /** Total requests to send. */
  count: number;
  /** POST bodies (cycled), or a file holding one JSON array of bodies. */
  bodiesFile?: string;
  headers?: Record<string, string>;
  ca: string;
  cert?: string;
  key?: string;
  expectStatus: number;
}

export interface LoadResult {
  ok: number;
  errors: number;
  statuses: Record<string, number>;
  seconds: number;
  p50: number;
  p99: number;
  /** CPU seconds the load generator itself used. */
  clientCpu: number;
}

async function main(): Promise<void> {
  const job = JSON.parse(readFileSync(process.argv[2] as string, "utf8")) as LoadJob;
  const bodies: string[] = job.bodiesFile
    ? (JSON.parse(readFileSync(job.bodiesFile, "utf8")) as unknown[]).map((b) => JSON.stringify(b))
    : [];
  const url = new URL(job.url);
  const https = url.protocol === "https:";
  const agent = https
    ? new Agent({ keepAlive: true, maxSockets: job.concurrency, ca: job.ca, cert: job.cert, key: job.key })
    : new HttpAgent({ keepAlive: true, maxSockets: job.concurrency });
  const send = https ? request : httpRequest;
  const latencies = new Float64Array(job.count);
  const statuses: Record<string, number> = {};
  let next = 0;
  let ok = 0;
  let errors = 0;
  const one = (i: number) =>
    new Promise<void>((resolve) => {
      const body = bodies.length ? bodies[i % bodies.length] : undefined;
      const start = performance.now();
      const req = send(
        url,
        {
          method: job.method,
          agent,
          headers: {
            ...(job.headers ?? {}),
            ...(body ? { "content-type": "application/json", "content-length": Buffer.byteLength(body) } : {}),
          },
        },
        (res) => {
          res.on("data", () => {});
          res.on("end", () => {
            latencies[i] = performance.now() - start;
            statuses[res.statusCode ?? 0] = (statuses[res.statusCode ?? 0] ?? 0) + 1;
            if (res.statusCode === job.expectStatus) ok++;
            else errors++;
            resolve();
          });
        },
      );
      req.on("error", () => {
        latencies[i] = performance.now() - start;
        errors++;
        resolve();
      });
      req.end(body);
    });
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: job.concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= job.count) return;
        await one(i);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const sorted = Array.from(latencies).sort((a, b) => a - b);
  const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
  const cpu = process.cpuUsage(cpu0);
  const result: LoadResult = {
    ok,
    errors,
    statuses,
    seconds,
    p50: pct(50),
    p99: pct(99),
    clientCpu: (cpu.user + cpu.system) / 1e6,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  agent.destroy();
}

await main();
