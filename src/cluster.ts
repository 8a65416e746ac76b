import cluster, { type Worker } from "node:cluster";
import { createServer as createNetServer, type Server as NetServer } from "node:net";
import { availableParallelism } from "node:os";
import type { Logger } from "pino";
import { systemClock } from "./clock.js";
import type { ListenAddress, ServeConfig } from "./config.js";
import { acceptHandedConnections, ConnectionBalancer, isClosedReport, type ListenerName } from "./connection-balancer.js";
import { isInitialized } from "./data-dir.js";
import { listen } from "./http/listen.js";
import type { RunningTessera } from "./main.js";

export interface ServingInfo {
  apiUrl: string;
  crlUrl: string;
  bundlePath: string;
  bundleFingerprint: string;
  trustDomain: string;
}

const WORKER_INDEX_ENV = "TESSERA_WORKER_INDEX";
/** The addresses the primary listens on, for the workers' URLs (JSON). */
const LISTENING_ENV = "TESSERA_LISTENING";

interface Listening {
  listen: ListenAddress;
  httpListen?: ListenAddress;
}

/**
 * glibc's malloc raises its mmap threshold to the size of each large block
 * freed (up to 32 MB), after which multi-megabyte buffers — a CRL build's —
 * come from the heap and stay resident once freed: a 100k-entry rebuild then
 * peaked at ~3.2× the CRL's size instead of ~1.4×. A fixed threshold keeps
 * them in mmap, returned to the system when freed. Workers get it unless the
 * operator set their own; nothing on the request path allocates that much.
 */
export function workerMallocEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return { MALLOC_MMAP_THRESHOLD_: env.MALLOC_MMAP_THRESHOLD_ ?? String(128 * 1024) };
}

/**
 * V8 flags for the workers. Left to itself V8 sizes the old generation of a
 * heap this small (~12 MB live) tightly, and under load the objects of
 * requests in flight that outlive a scavenge fill it within ~0.3 s: a full
 * GC three times a second, each stalling every request in flight (X.509-SVIDs
 * at c=64: 47 full GCs in a 60k-request run). An initial old generation of
 * 128 MB (it does not shrink while the heap is young) cut that to ~8, for
 * +7% throughput and a p99 3–6 ms lower, peak RSS +4–10 MiB. The flag must
 * be given when the process starts, hence a process of its own even for one
 * worker; an operator's own setting wins.
 */
export function workerExecArgv(
  execArgv: readonly string[] = process.execArgv,
  options: { singleThreadedGc?: boolean } = {},
): string[] {
  const args = [...execArgv];
  if (!args.some((a) => a.startsWith("--initial-old-space-size"))) args.push("--initial-old-space-size=128");
  if (options.singleThreadedGc && !args.some((a) => /^--(no-)?single-threaded-gc$/.test(a))) args.push("--single-threaded-gc");
  return args;
}

/**
 * Whether V8 should collect garbage on each isolate's own thread only: when
 * the workers' busy threads (event loops and crypto threads) already fill
 * the cores, V8's helper threads for parallel and concurrent GC can only
 * preempt them. One worker on two vCPUs (event loop and crypto thread) made
 * X.509-SVIDs at c=64 faster in nine of ten alternating runs with it (−1 to
 * +10%, p99 up to 5 ms lower): the helpers had been taking the core of the
 * crypto thread, that process's queue. Two workers came out even (±5%, p99
 * 0.4 ms lower on average over ten runs). An operator's own setting wins.
 */
export function singleThreadedGc(workers: number, cores: number = availableParallelism()): boolean {
  return workers * (1 + cryptoThreadsPerWorker(workers, cores)) >= cores;
}

/**
 * A crypto thread lets one worker use a second core for the CSR checks and
 * signatures (see CryptoThreads). Once the workers alone fill the cores it
 * only adds handoffs and threads to schedule: two workers on two vCPUs made
 * X.509-SVIDs +2–8% faster (five alternating runs), with a p99 at c=64 of
 * 23.7–29.2 ms against 27.9–30.8, doing that work on their event loops;
 * JWT-SVIDs within ±3%.
 */
export function cryptoThreadsPerWorker(workers: number, cores: number = availableParallelism()): number {
  return workers < cores ? 1 : 0;
}

/**
 * Runs the server in `workers` processes (node:cluster). The primary
 * initialises the data directory once, listens, hands each connection to a
 * worker (the one with the fewest open: ConnectionBalancer), starts the
 * workers, restarts any that die, and stops them all on SIGTERM. Worker 0 is
 * the leader for background duties. Returns the serving addresses once every
 * worker is ready.
 */
export async function serveClustered(
  config: Readonly<ServeConfig>,
  workers: number,
  logger: Logger,
): Promise<{ info: ServingInfo; stop: () => Promise<void> } | undefined> {
  if (cluster.isWorker) {
    const index = Number(process.env[WORKER_INDEX_ENV] ?? 0);
    const listening = JSON.parse(process.env[LISTENING_ENV] ?? "{}") as Listening;
    const { startTessera } = await import("./main.js");
    const running: RunningTessera = await startTessera(
      { ...config, ...listening, autoInit: false },
      { logger, leader: index === 0, cryptoThreads: cryptoThreadsPerWorker(workers), handedConnections: true },
    );
    acceptHandedConnections((listener, socket) => running.accept(listener, socket));
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      void running.close().finally(() => process.exit(0));
    };
    // a worker never outlives its primary
    process.on("disconnect", stop);
    process.once("SIGTERM", stop);
    // Ctrl-C in a terminal reaches the whole process group: close as on SIGTERM, not half-way
    process.once("SIGINT", stop);
    process.send?.({ type: "ready", info: infoOf(running) });
    return undefined;
  }

  if (!isInitialized(config.dataDir)) {
    if (!config.autoInit) throw new Error(`${config.dataDir} is not initialised: run "tessera init" first`);
    const { DEFAULT_INIT, initializeCa } = await import("./ca/init-ca.js");
    await initializeCa(config.dataDir, { ...DEFAULT_INIT, trustDomain: config.defaultTrustDomain }, process.env, systemClock);
  }
  const balancer = new ConnectionBalancer<Worker>();
  const acceptors: NetServer[] = [];
  const acceptor = async (listener: ListenerName, addr: ListenAddress): Promise<ListenAddress> => {
    // noDelay as node:http sets it on the sockets it accepts itself: a response is never held back for an ACK
    const server = createNetServer({ pauseOnConnect: true, noDelay: true }, (socket) => {
      socket.on("error", () => socket.destroy());
      balancer.hand(listener, socket);
    });
    acceptors.push(server);
    const bound = await listen(server, addr);
    // once listening, an accept that fails (out of descriptors, say) must not take the primary down
    server.on("error", (err) => logger.error({ err, listener }, "accepting a connection failed"));
    return bound;
  };
  const closeAcceptors = () => {
    balancer.stop();
    for (const server of acceptors) server.close();
  };
  let listening: Listening;
  try {
    listening = { listen: await acceptor("api", config.listen) };
    if (config.httpListen) listening.httpListen = await acceptor("public", config.httpListen);
  } catch (error) {
    closeAcceptors();
    throw error;
  }
  let stopping = false;
  /**
   * At start, a worker that never gets ready (a port in use, a bad config)
   * fails the start: it would only fail again. Once serving, a worker that
   * dies is replaced, and a replacement that fails is tried again later,
   * backing off up to a minute.
   */
  const fork = (index: number, restartDelayMs?: number): Promise<ServingInfo> =>
    new Promise((resolve, reject) => {
      const worker: Worker = cluster.fork({
        ...workerMallocEnv(),
        [WORKER_INDEX_ENV]: String(index),
        [LISTENING_ENV]: JSON.stringify(listening),
      });
      let ready = false;
      worker.on("message", (m: { type?: string; info?: ServingInfo }) => {
        if (isClosedReport(m)) balancer.closed(worker);
        else if (m.type === "ready" && m.info) {
          ready = true;
          balancer.add(worker);
          resolve(m.info);
        }
      });
      worker.on("exit", (code, signal) => {
        balancer.remove(worker);
        if (!ready) reject(new Error(`worker ${index} exited (${signal ?? code}) before it was ready`));
        if (stopping || (!ready && restartDelayMs === undefined)) return;
        const delay = ready ? 500 : Math.min(60_000, (restartDelayMs as number) * 2);
        logger.error({ worker: index, code, signal, restart_in_ms: delay }, "worker died; starting a new one");
        setTimeout(() => void fork(index, delay).catch(() => {}), delay);
      });
    });
  // the leader first (it may rotate keys at start), then the others
  cluster.setupPrimary({ execArgv: workerExecArgv(process.execArgv, { singleThreadedGc: singleThreadedGc(workers) }) });
  let first: ServingInfo;
  try {
    first = await fork(0);
    await Promise.all(Array.from({ length: workers - 1 }, (_, i) => fork(i + 1)));
  } catch (error) {
    closeAcceptors();
    throw error;
  }
  return {
    info: first,
    stop: async () => {
      stopping = true;
      closeAcceptors();
      await Promise.all(
        Object.values(cluster.workers ?? {}).map(
          (w) =>
            new Promise<void>((resolve) => {
              if (!w || w.isDead()) return resolve();
              w.once("exit", () => resolve());
              w.process.kill("SIGTERM");
            }),
        ),
      );
    },
  };
}

function infoOf(r: RunningTessera): ServingInfo {
  return {
    apiUrl: r.apiUrl,
    crlUrl: r.crlUrl,
    bundlePath: r.bundlePath,
    bundleFingerprint: r.bundleFingerprint,
    trustDomain: r.trustDomain,
  };
}
