// `greater serve`: the HTTP API and the live dashboard over the job queue, until SIGTERM/SIGINT.
import { readApiToken } from "../serve/auth.js";
import { createServer } from "../serve/server.js";

export interface ServeFlags {
  redis: string;
  redisCa?: string;
  prefix?: string;
  port: number;
  host: string;
  tokenFile?: string;
  allowRoot: string[];
  corsOrigin: string[];
  bodyLimit?: number;
}

export async function serveCommand(flags: ServeFlags, signal: AbortSignal): Promise<number> {
  const token = readApiToken({ file: flags.tokenFile });
  const server = await createServer({
    redis: { url: flags.redis, tlsCaFile: flags.redisCa },
    prefix: flags.prefix,
    token,
    allowRoots: flags.allowRoot,
    corsOrigins: flags.corsOrigin,
    bodyLimit: flags.bodyLimit,
  });
  const address = await server.listen(flags.port, flags.host);
  console.error(`greater serve: dashboard ${address}/ · API ${address}/api · queues ${address}/queues (Ctrl-C stops)`);
  await new Promise<void>((done) => (signal.aborted ? done() : signal.addEventListener("abort", () => done(), { once: true })));
  await server.close();
  return 0;
}
