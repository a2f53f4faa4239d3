// Real parts for the job tests: a redis-server per test file on a free loopback port in a temporary folder,
// and `greater worker` processes.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Redis } from "ioredis";

export const ROOT = resolve(import.meta.dirname, "..", "..");
export const CLI = join(ROOT, "bin", "greater.js");
export const TINY = join(ROOT, "models", "tiny-reasoner");

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

export interface RedisHandle {
  url: string;
  port: number;
  dir: string;
  /** Stops the server (it writes its append-only file first) and starts it again on the same port and data. */
  restart(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** PEM files of a throw-away CA and a server certificate for 127.0.0.1 signed by it (made with openssl). */
export function makeTlsFiles(dir: string): { ca: string; cert: string; key: string } {
  const run = (args: string[]) => {
    const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr || r.error?.message}`);
  };
  run(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=greater test CA"]);
  run(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"]);
  writeFileSync(join(dir, "san.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  run(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.cnf"]);
  return { ca: join(dir, "ca.pem"), cert: join(dir, "server.pem"), key: join(dir, "server.key") };
}

/** Starts redis-server on a free loopback port; `extraArgs` e.g. ["--requirepass", "secret"]; `tls`: TLS only. */
export async function startRedis(
  redisServer: string,
  options: { extraArgs?: string[]; password?: string; tls?: { ca: string; cert: string; key: string } } = {},
): Promise<RedisHandle> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "greater-redis-"));
  let child: ChildProcess | undefined;
  let log = "";
  const { tls } = options;
  const listen = tls
    ? ["--port", "0", "--tls-port", String(port), "--tls-cert-file", tls.cert, "--tls-key-file", tls.key, "--tls-ca-cert-file", tls.ca, "--tls-auth-clients", "no"]
    : ["--port", String(port)];
  const args = [...listen, "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always", ...(options.extraArgs ?? [])];
  const launch = async () => {
    child = spawn(redisServer, args, { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout!.on("data", (d) => (log += d));
    child.stderr!.on("data", (d) => (log += d));
    const client = new Redis({ port, host: "127.0.0.1", password: options.password, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0,
      ...(tls ? { tls: { ca: readFileSync(tls.ca) } } : {}) });
    client.on("error", () => {});
    for (let i = 0; i < 100; i++) {
      try {
        await client.connect();
        await client.ping();
        client.disconnect();
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    client.disconnect();
    throw new Error(`redis-server did not start on port ${port}:\n${log}`);
  };
  const stopChild = async () => {
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child!.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  };
  await launch();
  const auth = options.password ? `:${encodeURIComponent(options.password)}@` : "";
  return {
    url: `${tls ? "rediss" : "redis"}://${auth}127.0.0.1:${port}`,
    port,
    dir,
    async restart(downMs = 1000) {
      await stopChild();
      await new Promise((r) => setTimeout(r, downMs));
      await launch();
    },
    async stop() {
      await stopChild();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface WorkerProcess {
  child: ChildProcess;
  pid: number;
  /** Everything it wrote to stderr so far. */
  log(): string;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
  /** Resolves once its log has a line matching `pattern`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

/** Starts `greater worker` with one libtorch thread; resolves once it is taking jobs. */
export async function startWorkerProcess(redisUrl: string, args: string[] = []): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [CLI, "worker", "--redis", redisUrl, "--threads", "1", "--lock-duration", "5000", "--stalled-interval", "2000", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    cwd: ROOT,
  });
  let text = "";
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  const onData = (d: Buffer) => {
    text += d.toString();
    for (const w of [...waiters]) if (w.pattern.test(text)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  const exited = new Promise<number | string>((r) => child.once("exit", (code, signal) => r(code ?? signal ?? "unknown")));
  const waitFor = (pattern: RegExp, timeoutMs = 60_000) =>
    new Promise<void>((resolveWait, reject) => {
      if (pattern.test(text)) return resolveWait();
      const timer = setTimeout(() => reject(new Error(`worker ${child.pid}: no ${pattern} in ${timeoutMs} ms; its log:\n${text}`)), timeoutMs);
      waiters.push({ pattern, resolve: () => (clearTimeout(timer), resolveWait()) });
      void exited.then((code) => reject(new Error(`worker ${child.pid} exited (${code}) before ${pattern}; its log:\n${text}`)));
    });
  const handle: WorkerProcess = { child, pid: child.pid!, log: () => text, exited, waitFor };
  await waitFor(/takes (cpu|cuda) jobs/);
  return handle;
}

/** Stops a worker process (SIGTERM, then SIGKILL after 20 s). */
export async function stopWorkerProcess(worker: WorkerProcess): Promise<void> {
  if (worker.child.exitCode !== null || worker.child.signalCode !== null) return;
  worker.child.kill("SIGTERM");
  const timer = setTimeout(() => worker.child.kill("SIGKILL"), 20_000);
  await worker.exited;
  clearTimeout(timer);
}
