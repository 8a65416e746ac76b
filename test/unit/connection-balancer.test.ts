import { Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { ConnectionBalancer, type ConnectionTarget, type ListenerName, MAX_WAITING } from "../../src/connection-balancer.js";

/** A worker that records what it was sent; `fail` makes its next sends fail as a dying worker's do. */
class FakeWorker implements ConnectionTarget {
  readonly got: Array<{ listener: ListenerName; socket: Socket }> = [];
  fail = false;
  constructor(readonly name: string) {}
  send(message: { type: string; listener: ListenerName }, socket: Socket, callback: (error: Error | null) => void): boolean {
    if (this.fail) queueMicrotask(() => callback(new Error("channel closed")));
    else {
      this.got.push({ listener: message.listener, socket });
      queueMicrotask(() => callback(null));
    }
    return !this.fail;
  }
}

const sockets = (n: number) => Array.from({ length: n }, () => new Socket());

describe("ConnectionBalancer", () => {
  it("gives each connection to the worker with the fewest open, in turn when they are level", () => {
    const [a, b, c] = [new FakeWorker("a"), new FakeWorker("b"), new FakeWorker("c")];
    const balancer = new ConnectionBalancer<FakeWorker>();
    for (const w of [a, b, c]) balancer.add(w);
    for (const s of sockets(9)) balancer.hand("api", s);
    expect(balancer.counts()).toEqual([3, 3, 3]);
    expect([a.got.length, b.got.length, c.got.length]).toEqual([3, 3, 3]);
    // b's connections close: the next three all go to b
    for (let i = 0; i < 3; i++) balancer.closed(b);
    for (const s of sockets(3)) balancer.hand("public", s);
    expect(b.got.map((g) => g.listener)).toEqual(["api", "api", "api", "public", "public", "public"]);
    expect(balancer.counts()).toEqual([3, 3, 3]);
  });

  it("never counts below zero, and forgets a worker that is gone", () => {
    const [a, b] = [new FakeWorker("a"), new FakeWorker("b")];
    const balancer = new ConnectionBalancer<FakeWorker>();
    balancer.add(a);
    balancer.add(b);
    balancer.closed(a); // a report for a connection handed before a restart, say
    balancer.hand("api", new Socket());
    balancer.hand("api", new Socket());
    expect(balancer.counts()).toEqual([1, 1]);
    balancer.remove(a);
    for (const s of sockets(4)) balancer.hand("api", s);
    expect(balancer.counts()).toEqual([5]);
    expect(a.got).toHaveLength(1);
  });

  it("holds connections until a worker is ready, up to a limit, and drops them if it stops first", () => {
    const balancer = new ConnectionBalancer<FakeWorker>();
    const early = sockets(2);
    for (const s of early) balancer.hand("api", s);
    const a = new FakeWorker("a");
    balancer.add(a);
    expect(a.got.map((g) => g.socket)).toEqual(early);

    // no more than MAX_WAITING are held: each is a descriptor
    const flood = new ConnectionBalancer<FakeWorker>();
    const many = sockets(MAX_WAITING + 1);
    for (const s of many) flood.hand("api", s);
    expect(many.filter((s) => s.destroyed)).toEqual([many.at(-1)]);
    const b = new FakeWorker("b");
    flood.add(b);
    expect(b.got).toHaveLength(MAX_WAITING);

    const idle = new ConnectionBalancer<FakeWorker>();
    const waiting = new Socket();
    idle.hand("api", waiting);
    idle.stop();
    expect(waiting.destroyed).toBe(true);
    const late = new Socket();
    idle.hand("api", late);
    expect(late.destroyed).toBe(true);
  });

  it("hands a connection a dying worker could not take to another, and drops it once no worker takes it", async () => {
    const [a, b] = [new FakeWorker("a"), new FakeWorker("b")];
    const balancer = new ConnectionBalancer<FakeWorker>();
    balancer.add(a);
    balancer.add(b);
    a.fail = true;
    const s = new Socket();
    balancer.hand("api", s); // a's turn: it fails, b gets it
    await new Promise((r) => setTimeout(r, 0));
    expect(b.got.map((g) => g.socket)).toEqual([s]);
    expect(balancer.counts()).toEqual([0, 1]);

    b.fail = true;
    const lost = new Socket();
    balancer.hand("api", lost);
    await new Promise((r) => setTimeout(r, 0));
    expect(lost.destroyed).toBe(true);
    expect(balancer.counts()).toEqual([0, 1]);
  });
});
