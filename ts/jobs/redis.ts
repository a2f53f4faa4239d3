// Redis connections from a URL: redis://[user:password@]host:port[/db] or rediss:// for TLS (with the
// server's CA when it is not one the system trusts). BullMQ needs maxRetriesPerRequest null on connections
// that block; commands then wait through a Redis restart instead of failing.
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { Redis, type RedisOptions } from "ioredis";

export interface RedisConnectionOptions {
  /** redis://[user:password@]host:port[/db], or rediss://… for TLS. */
  url: string;
  /** PEM file of the CA that signed a rediss:// server's certificate (default: the system's CAs). */
  tlsCaFile?: string;
}

export type RedisInput = string | RedisConnectionOptions;

export function redisOptions(input: RedisInput): RedisConnectionOptions {
  return typeof input === "string" ? { url: input } : input;
}

/** Where a URL points, without its password (for messages and logs). */
export function describeRedis(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.username ? `${u.username}@` : ""}${u.host}${u.pathname === "/" ? "" : u.pathname}`;
  } catch {
    return "(unparseable Redis URL)";
  }
}

/** A new connection. `blocking`: commands wait for Redis forever (workers, event readers). */
export function openRedis(input: RedisInput, blocking = true): Redis {
  const { url, tlsCaFile } = redisOptions(input);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`Redis URL ${JSON.stringify(url)} is not a URL (expected redis://host:port or rediss://host:port)`);
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new Error(`Redis URL ${describeRedis(url)}: the scheme must be redis:// or rediss:// (TLS)`);
  }
  const options: RedisOptions = { maxRetriesPerRequest: blocking ? null : 1, lazyConnect: false };
  if (parsed.protocol === "rediss:") {
    // SNI takes host names only; a certificate for an IP address is checked against its IP SAN all the same.
    const servername = isIP(parsed.hostname) ? undefined : parsed.hostname;
    let ca: Buffer | undefined;
    try {
      ca = tlsCaFile ? readFileSync(tlsCaFile) : undefined;
    } catch (error) {
      throw new Error(`--redis-ca ${tlsCaFile}: ${(error as Error).message}`);
    }
    options.tls = { ...(ca ? { ca } : {}), ...(servername ? { servername } : {}) };
  } else if (tlsCaFile) {
    throw new Error(`--redis-ca is for rediss:// URLs; ${describeRedis(url)} is not TLS`);
  }
  const client = new Redis(url, options);
  // Connection errors are retried by ioredis; they are reported where a command fails, not as crashes.
  client.on("error", () => {});
  return client;
}

/** Fails fast, with the address and Redis's own reason, when Redis cannot be reached or refuses the login. */
export async function checkReachable(client: Redis, url: string, timeoutMs = 5000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let lastError = "";
  const onError = (error: Error) => (lastError = error.message);
  client.on("error", onError);
  try {
    await Promise.race([
      client.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs / 1000} s${lastError ? `: ${lastError}` : ""}`)), timeoutMs);
      }),
    ]);
  } catch (error) {
    throw new Error(`cannot use Redis at ${describeRedis(url)}: ${(error as Error).message}`);
  } finally {
    clearTimeout(timer);
    client.off("error", onError);
  }
}

/** A new (blocking) connection that Redis has answered; closed again, and the reason thrown, when it does not. */
export async function openReachableRedis(input: RedisConnectionOptions): Promise<Redis> {
  const client = openRedis(input);
  try {
    await checkReachable(client, input.url);
    return client;
  } catch (error) {
    client.disconnect();
    throw error;
  }
}
