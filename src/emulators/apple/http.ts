// Small HTTP helpers over node:http (the emulator needs exact control of status codes, headers,
// content-type handling and large streamed bodies, so it does not use a framework).
import type { IncomingMessage, ServerResponse } from "node:http";

export class BodyTooLargeError extends Error {}

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new BodyTooLargeError(`request body over ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const payload = Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    "Content-Type": "application/json;charset=UTF-8",
    "Content-Length": String(payload.length),
    ...headers,
  });
  res.end(payload);
}

export function sendText(
  res: ServerResponse,
  status: number,
  body: string | Buffer,
  contentType: string,
  headers: Record<string, string> = {},
): void {
  const payload = typeof body === "string" ? Buffer.from(body) : body;
  res.writeHead(status, {
    "Content-Type": contentType,
    "Content-Length": String(payload.length),
    ...headers,
  });
  res.end(payload);
}

/** Streams `{"<key>":[row,row,…]}` without building one huge string. */
export async function sendJsonArray<T>(
  res: ServerResponse,
  key: string,
  rows: Iterable<T>,
  toJson: (row: T) => unknown,
): Promise<void> {
  res.writeHead(200, { "Content-Type": "application/json;charset=UTF-8" });
  let buf = `{${JSON.stringify(key)}:[`;
  let first = true;
  for (const row of rows) {
    buf += (first ? "" : ",") + JSON.stringify(toJson(row));
    first = false;
    if (buf.length > 1 << 20) {
      if (res.destroyed) return;
      if (!res.write(buf))
        await new Promise<void>((resolve) => {
          // Whichever comes first; the other listener goes too (a long response waits many times).
          const done = () => {
            res.off("drain", done);
            res.off("close", done);
            resolve();
          };
          res.once("drain", done);
          res.once("close", done);
        });
      buf = "";
    }
  }
  res.end(`${buf}]}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function isJsonContentType(header: string | undefined): boolean {
  if (!header) return false;
  return /^application\/([a-z0-9.+-]*\+)?json\s*(;|$)/i.test(header.trim());
}
