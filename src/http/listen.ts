import type { AddressInfo, Server } from "node:net";
import type { ListenAddress } from "../config.js";
import { TesseraError } from "../errors.js";

const WHY: Record<string, string> = {
  EADDRINUSE: "the address is already in use",
  EACCES: "permission denied",
  EADDRNOTAVAIL: "no such local address",
};

/** Listens on `addr`; resolves with the port bound (port 0 picks one), or says in one line why it cannot. */
export function listen(server: Server, addr: ListenAddress): Promise<ListenAddress> {
  return new Promise((resolve, reject) => {
    const failed = (e: NodeJS.ErrnoException) => {
      const reason = WHY[e.code ?? ""];
      reject(reason ? new TesseraError("invalid_argument", `cannot listen on ${addr.host}:${addr.port}: ${reason}`) : e);
    };
    server.once("error", failed);
    server.listen(addr.port, addr.host, () => {
      server.off("error", failed);
      resolve({ host: addr.host, port: (server.address() as AddressInfo).port });
    });
  });
}
