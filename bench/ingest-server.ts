// The sender of the `ingest` scenario, in a process of its own so that it does not share the reader's thread:
// listens on 127.0.0.1, prints its port, and writes `lines` lines of about 40 bytes to every connection as fast as
// the reader takes them (waiting for `drain`), then ends the connection.
// Usage: node --import tsx bench/ingest-server.ts <lines>
import * as net from "node:net";

const total = Number(process.argv[2]);
if (!Number.isSafeInteger(total) || total <= 0) {
  process.stderr.write("usage: bench/ingest-server.ts <lines>\n");
  process.exit(2);
}

/** Lines `nnnnnnnn the quick brown fox jumps over it\n` (41 bytes), numbered within a block. */
function block(count: number, first: number): Buffer {
  let text = "";
  for (let i = 0; i < count; i++)
    text += `${String(first + i).padStart(8, "0")} the quick brown fox jumps over it\n`;
  return Buffer.from(text, "latin1");
}

const PER_BLOCK = 4096;
const full = block(PER_BLOCK, 0);

function serve(socket: net.Socket): void {
  socket.on("error", () => {});
  let sent = 0;
  const send = () => {
    while (sent < total) {
      const n = Math.min(PER_BLOCK, total - sent);
      sent += n;
      if (!socket.write(n === PER_BLOCK ? full : block(n, 0))) return; // until "drain"
    }
    socket.off("drain", send);
    socket.end();
  };
  socket.on("drain", send);
  send();
}

const server = net.createServer(serve);
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${(server.address() as net.AddressInfo).port}\n`);
});
process.on("disconnect", () => process.exit(0));
