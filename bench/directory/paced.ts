// An evenly paced load generator (run as its own process by run.ts): request i is due at
// start + i / rate, sent over at most `connections` keep-alive connections, and its latency is
// measured from when it was due (so queueing behind a slow answer counts, as it would for a client).
// autocannon's rate limit instead lets each connection send its per-second quota back to back at the
// start of every second; both figures are reported.
import http from "node:http";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    token: { type: "string" },
    rate: { type: "string", default: "200" },
    connections: { type: "string", default: "16" },
    warmup: { type: "string", default: "10" },
    duration: { type: "string", default: "30" },
  },
});
const url = new URL(values.url!);
const rate = Number(values.rate);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(values.connections) });

function once(): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ agent, host: url.hostname, port: url.port, path: url.pathname + url.search, headers: { authorization: `Bearer ${values.token}` } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
  });
}

async function phase(seconds: number) {
  const latencies: number[] = [];
  let errors = 0;
  const total = Math.round(seconds * rate);
  const start = performance.now() + 50;
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inFlight.push(
      once().then(
        (status) => {
          if (status !== 200) errors++;
          latencies.push(performance.now() - due);
        },
        () => {
          errors++;
        },
      ),
    );
  }
  await Promise.all(inFlight);
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const p = (q: number) => latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)] ?? 0;
  return { requests: latencies.length, errors, rate: latencies.length / elapsed, p50: p(0.5), p99: p(0.99), max: latencies.at(-1) ?? 0 };
}

await phase(Number(values.warmup));
const measured = await phase(Number(values.duration));
process.stdout.write(`${JSON.stringify(measured)}\n`);
agent.destroy();
