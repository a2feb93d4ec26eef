import net from "node:net";

/** A TCP relay: listens on `listenHost` (a free port) and pipes each connection to `target`. */
export interface Relay {
  readonly port: number;
  /** Drops every open connection and stops listening. */
  close(): Promise<void>;
}

/**
 * Starts a relay from `listenHost` to `target`: how this tier lets pods on the real node reach a server of
 * this machine that listens on 127.0.0.1 only (the run's Postgres, a file's fauxqs, the API server).
 */
export async function startRelay(listenHost: string, target: { host: string; port: number }): Promise<Relay> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((incoming) => {
    const outgoing = net.connect(target.port, target.host);
    for (const socket of [incoming, outgoing]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {
        incoming.destroy();
        outgoing.destroy();
      });
    }
    incoming.pipe(outgoing).pipe(incoming);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, listenHost, resolve);
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
