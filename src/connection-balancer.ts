import { Socket } from "node:net";

/** The server's listeners: the API (HTTPS) and the optional plain-HTTP one for CRLs. */
export type ListenerName = "api" | "public";

const HANDED = "tessera.connection";
const CLOSED = "tessera.closed";
/** Sends of one connection that may fail (its worker just died) before it is dropped. */
const MAX_ATTEMPTS = 3;
/** Connections held while no worker is ready (all restarting) before new ones are refused: each holds a descriptor. */
export const MAX_WAITING = 1024;

/** A worker as the balancer sees it: something a socket can be sent to (node:cluster's Worker). */
export interface ConnectionTarget {
  send(message: { type: string; listener: ListenerName }, handle: Socket, callback: (error: Error | null) => void): boolean;
}

/**
 * Hands each connection the primary accepts to the worker with the fewest
 * open connections. node:cluster's own round robin gives the next connection
 * to whichever worker acknowledged its last one first, so a burst of
 * connections piles onto the less busy worker: 64 kept-alive clients were
 * split 25/39 to 41/23 between two workers, and the clients of the fuller
 * one waited ~25% longer for every request. Ties go round in turn.
 */
export class ConnectionBalancer<W extends ConnectionTarget> {
  private readonly open = new Map<W, number>();
  /** Connections accepted while no worker was ready, handed out as soon as one is. */
  private readonly waiting: Array<{ listener: ListenerName; socket: Socket }> = [];
  private turn = 0;
  private stopped = false;

  /** A worker ready to serve. */
  add(worker: W): void {
    this.open.set(worker, 0);
    for (const { listener, socket } of this.waiting.splice(0)) this.hand(listener, socket);
  }

  /** A worker gone: its connections went with it. */
  remove(worker: W): void {
    this.open.delete(worker);
  }

  /** Reported by a worker when a connection it was handed closes (see `reportClosed`). */
  closed(worker: W): void {
    const n = this.open.get(worker);
    if (n) this.open.set(worker, n - 1);
  }

  /** Open connections per ready worker, in the order they were added. */
  counts(): number[] {
    return [...this.open.values()];
  }

  /** Drops connections still waiting for a worker, and any accepted from now on. */
  stop(): void {
    this.stopped = true;
    for (const { socket } of this.waiting.splice(0)) socket.destroy();
  }

  hand(listener: ListenerName, socket: Socket, attempt = 1): void {
    if (this.stopped) {
      socket.destroy();
      return;
    }
    const worker = this.pick();
    if (!worker) {
      if (this.waiting.length < MAX_WAITING) this.waiting.push({ listener, socket });
      else socket.destroy();
      return;
    }
    this.open.set(worker, (this.open.get(worker) ?? 0) + 1);
    worker.send({ type: HANDED, listener }, socket, (error) => {
      if (!error) return;
      // not sent (the worker is exiting): the socket is still ours
      this.closed(worker);
      if (attempt < MAX_ATTEMPTS && !socket.destroyed) this.hand(listener, socket, attempt + 1);
      else socket.destroy();
    });
  }

  private pick(): W | undefined {
    const workers = [...this.open.keys()];
    let best: W | undefined;
    for (let i = 0; i < workers.length; i++) {
      const w = workers[(this.turn + i) % workers.length] as W;
      if (best === undefined || (this.open.get(w) as number) < (this.open.get(best) as number)) best = w;
    }
    this.turn = (this.turn + 1) % Math.max(1, workers.length);
    return best;
  }
}

/** Whether a message from a worker reports a handed connection closed. */
export function isClosedReport(message: unknown): boolean {
  return (message as { type?: unknown } | null)?.type === CLOSED;
}

/**
 * In a worker: passes each connection the primary hands over to `accept`,
 * and tells the primary when it closes.
 */
export function acceptHandedConnections(accept: (listener: ListenerName, socket: Socket) => void): void {
  process.on("message", (message: { type?: unknown; listener?: unknown }, handle: unknown) => {
    if (message?.type !== HANDED || !(handle instanceof Socket)) return;
    const listener = message.listener === "public" ? "public" : "api";
    handle.once("close", reportClosed);
    accept(listener, handle);
  });
}

function reportClosed(): void {
  // the channel is gone once the primary is: nothing left to report to
  if (process.connected) process.send?.({ type: CLOSED }, undefined, undefined, () => {});
}
