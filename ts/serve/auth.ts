// Who may use the API: the holder of the operator's token, as a bearer token (API clients) or as the dashboard's
// cookie (pages that cannot send headers, such as Bull Board). Compared in constant time.
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";

/** The token from GREATER_API_TOKEN or a file (its first line); refuses a short or missing one. */
export function readApiToken(options: { file?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const env = options.env ?? process.env;
  let token: string | undefined;
  if (options.file !== undefined) {
    try {
      token = readFileSync(options.file, "utf8").split(/\r?\n/)[0].trim();
    } catch (error) {
      throw new Error(`--token-file ${options.file}: ${(error as Error).message}`);
    }
  } else token = env.GREATER_API_TOKEN?.trim();
  if (!token) throw new Error("greater serve needs an API token: set GREATER_API_TOKEN or pass --token-file FILE");
  if (token.length < 16) throw new Error(`the API token is ${token.length} characters long; use at least 16 (e.g. openssl rand -hex 24)`);
  return token;
}

const digest = (text: string) => createHash("sha256").update(text).digest();

/** A checker for `token`: hashes both sides first, so the comparison takes the same time whatever the length. */
export function tokenChecker(token: string): (candidate: string | undefined) => boolean {
  const expected = digest(token);
  return (candidate) => candidate !== undefined && timingSafeEqual(digest(candidate), expected);
}

/** The token a request carries: `Authorization: Bearer …`, else the dashboard's `greater_token` cookie. */
export function requestToken(headers: { authorization?: string; cookie?: string }): string | undefined {
  const bearer = /^Bearer\s+(.+)$/i.exec(headers.authorization ?? "");
  if (bearer) return bearer[1].trim();
  for (const part of (headers.cookie ?? "").split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === "greater_token") return decodeURIComponent(value.join("="));
  }
  return undefined;
}
