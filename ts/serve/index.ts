// `greater serve` as a library: the HTTP API and dashboard over the job layer, to embed in an existing service.
export { createServer, tinyTemplate, type GreaterServer, type ServerOptions } from "./server.js";
export { readApiToken } from "./auth.js";
export { openApiDocument, JobInfoSchema, JobProgressSchema, JobStatusSchema } from "./schemas.js";
