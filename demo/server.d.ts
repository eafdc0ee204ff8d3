// Types for demo/server.js (used by test/demo.test.ts).
import type { Server } from "node:http";

export const MOUNTS: [prefix: string, dir: string][];
/** The file a URL path names, or undefined (unknown prefix, traversal, a name this server does not serve). */
export function resolvePath(urlPath: string): string | undefined;
/** Starts the server on 127.0.0.1 (port 0: a free one); close() also drops keep-alive connections. */
export function start(opts?: { port?: number; host?: string }): Promise<{
  server: Server; port: number; url: string; close(): Promise<void>;
}>;
