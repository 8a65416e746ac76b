/**
 * The load generator: a separate process so the server's CPU is measured
 * alone. Reads a job (JSON in argv), drives it with keep-alive connections at
 * a fixed concurrency, prints one JSON result line.
 *
 * On two cores the generator competes with the server for CPU, so it is kept
 * lean: each connection is a raw TLS (or TCP) socket carrying pre-encoded
 * HTTP/1.1 requests, and responses are framed by Content-Length (or chunked
 * encoding) without Node's http client, whose per-request objects cost more
 * CPU than the server spends answering.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { type Socket, connect as tcpConnect } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { cpuSeconds } from "./proc-stats.js";

export interface LoadJob {
  url: string;
  method: "GET" | "POST";
  concurrency: number;
  /** Requests to measure. */
  count: number;
  /** Requests sent first and not measured (JIT and caches warm, as in a server that has been up a while). */
  warmup?: number;
  /** The server's pid: its CPU is read at the start and end of the measured requests. */
  serverPid?: number;
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
  /** Warm-up requests that did not get the expected status. */
  warmupErrors: number;
  /** CPU seconds the server (every process and thread of it) used while the measured requests ran. */
  serverCpu: number;
}

const HEADER_END = Buffer.from("\r\n\r\n");
const CHUNKED_END = Buffer.from("0\r\n\r\n");

/** Finds where one HTTP/1.1 response ends in `buf`, and its status; undefined until it is complete. */
export function frameResponse(buf: Buffer): { status: number; length: number } | undefined {
  const headerEnd = buf.indexOf(HEADER_END);
  if (headerEnd < 0) return undefined;
  const head = buf.toString("latin1", 0, headerEnd);
  const status = Number(head.slice(9, 12));
  const bodyStart = headerEnd + 4;
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (length) {
    const end = bodyStart + Number(length[1]);
    return buf.length >= end ? { status, length: end } : undefined;
  }
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
    const end = buf.indexOf(CHUNKED_END, bodyStart);
    return end < 0 ? undefined : { status, length: end + CHUNKED_END.length };
  }
  // 204/304 and friends carry no body
  return { status, length: bodyStart };
}

function encodeRequests(job: LoadJob, url: URL): Buffer[] {
  const bodies: (string | undefined)[] = job.bodiesFile
    ? (JSON.parse(readFileSync(job.bodiesFile, "utf8")) as unknown[]).map((b) => JSON.stringify(b))
    : [undefined];
  return bodies.map((body) => {
    const lines = [`${job.method} ${url.pathname}${url.search} HTTP/1.1`, `host: ${url.host}`, "connection: keep-alive"];
    for (const [k, v] of Object.entries(job.headers ?? {})) lines.push(`${k}: ${v}`);
    if (body !== undefined) lines.push("content-type: application/json", `content-length: ${Buffer.byteLength(body)}`);
    return Buffer.from(`${lines.join("\r\n")}\r\n\r\n${body ?? ""}`);
  });
}

async function main(): Promise<void> {
  const job = JSON.parse(readFileSync(process.argv[2] as string, "utf8")) as LoadJob;
  const url = new URL(job.url);
  const requests = encodeRequests(job, url);
  const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  const open = (): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const socket =
        url.protocol === "https:"
          ? tlsConnect({ host: url.hostname, port, ca: job.ca, cert: job.cert, key: job.key }, () => resolve(socket))
          : tcpConnect({ host: url.hostname, port }, () => resolve(socket));
      socket.setNoDelay(true);
      socket.once("error", reject);
    });

  const warmup = job.warmup ?? 0;
  const latencies = new Float64Array(job.count);
  const starts = new Float64Array(job.count);
  const statuses: Record<string, number> = {};
  let next = 0;
  let ok = 0;
  let errors = 0;
  let warmupErrors = 0;
  // every connection waits here once the warm-up requests are all answered, then the clock starts
  let warmedUp = 0;
  let t0 = 0;
  let cpu0 = process.cpuUsage();
  const serverCpuNow = () => (job.serverPid ? cpuSeconds(job.serverPid) : 0);
  let serverCpu0 = 0;
  let startMeasuring: () => void = () => {};
  const measuring = new Promise<void>((resolve) => {
    startMeasuring = () => {
      next = warmup; // each connection took one index past the warm-up when it stopped
      t0 = performance.now();
      cpu0 = process.cpuUsage();
      serverCpu0 = serverCpuNow();
      resolve();
    };
  });

  /**
   * One connection: send a request, wait for its whole response, repeat;
   * reconnect if the server closes. The connection is opened before the
   * clock starts (as wrk does): the figures are for keep-alive traffic, not
   * for 64 handshakes at once, whose queue would otherwise be the first
   * requests' latency and most of the top percent at c=64.
   */
  const drive = async (first: Socket): Promise<void> => {
    let socket: Socket | undefined = first;
    let pending: Buffer = Buffer.alloc(0);
    let waiter: (() => void) | undefined;
    let closed = false;
    const attach = (s: Socket) => {
      closed = false;
      pending = Buffer.alloc(0);
      s.on("data", (d: Buffer) => {
        pending = pending.length ? Buffer.concat([pending, d]) : d;
        waiter?.();
      });
      s.on("close", () => {
        closed = true;
        waiter?.();
      });
      s.on("error", () => {});
    };
    attach(first);
    const run = async (until: number, measured: boolean): Promise<void> => {
      for (;;) {
        const i = next++;
        if (i >= until) break;
        const outcome = await send(i);
        if (!measured) {
          if (outcome.status !== job.expectStatus) warmupErrors++;
          continue;
        }
        latencies[i - warmup] = outcome.ms;
        starts[i - warmup] = outcome.start - t0;
        statuses[outcome.status] = (statuses[outcome.status] ?? 0) + 1;
        if (outcome.status === job.expectStatus) ok++;
        else errors++;
      }
    };
    const send = async (i: number): Promise<{ status: number | "error"; ms: number; start: number }> => {
      const start = performance.now();
      try {
        if (!socket || closed) {
          socket?.destroy();
          socket = await open();
          attach(socket);
        }
        socket.write(requests[i % requests.length] as Buffer);
        let frame = frameResponse(pending);
        while (!frame) {
          if (closed) throw new Error("connection closed");
          await new Promise<void>((r) => {
            waiter = r;
          });
          waiter = undefined;
          frame = frameResponse(pending);
        }
        pending = pending.subarray(frame.length);
        return { status: frame.status, ms: performance.now() - start, start };
      } catch {
        socket?.destroy();
        socket = undefined;
        return { status: "error", ms: performance.now() - start, start };
      }
    };
    await run(warmup, false);
    if (++warmedUp === job.concurrency) startMeasuring();
    await measuring;
    await run(warmup + job.count, true);
    socket?.end();
  };

  const sockets = await Promise.all(Array.from({ length: job.concurrency }, open));
  await Promise.all(sockets.map(drive));
  const seconds = (performance.now() - t0) / 1000;
  const serverCpu = serverCpuNow() - serverCpu0;
  // one line per measured request, "start latency" in ms: slow requests bunched in time are a stall, spread out a queue
  const dump = process.env.BENCH_LATENCIES;
  if (dump) writeFileSync(dump, Array.from(latencies, (l, k) => `${(starts[k] ?? 0).toFixed(2)} ${l.toFixed(2)}`).join("\n"));
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
    warmupErrors,
    serverCpu,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (process.argv[2]) await main();
