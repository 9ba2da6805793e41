import type { AddressInfo } from "node:net";
import { type App, createApp } from "../app.js";
import { type Settings, settingsFromEnv } from "../settings.js";

/** A server URL the real-server tests need: they fail, never skip, without it. */
export function requiredEnv(name: string, example: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: these tests need a running server, e.g. ${name}=${example} (the project's Makefile sets it)`);
  }
  return value;
}

export const databaseUrl = () => requiredEnv("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres");
export const redisUrl = () => requiredEnv("TEST_REDIS_URL", "redis://127.0.0.1:6379/0");
export const memcachedServers = () => requiredEnv("TEST_MEMCACHED_SERVERS", "127.0.0.1:11211");

export interface Client {
  /** The server's URL, for requests request() cannot make (a body other than JSON). */
  base: string;
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<globalThis.Response>;
  close(): Promise<void>;
}

/** The app with these settings over the defaults (nothing from the environment), served on a free local port. */
export async function client(settings: Partial<Settings> = {}): Promise<Client> {
  const app: App = createApp({ ...settingsFromEnv({}), port: 0, ...settings });
  const server = app.handler.listen(0, "127.0.0.1");
  await new Promise<void>((resolve) => server.once("listening", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    request: (method, path, body, headers = {}) =>
      fetch(base + path, {
        method,
        headers: { ...(body === undefined ? {} : { "Content-Type": "application/json" }), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await app.close();
    },
  };
}

/** A local TCP port that accepts connections and never answers; closed by the returned function. */
export async function silentPort(): Promise<{ port: number; close: () => void }> {
  const { createServer } = await import("node:net");
  const sockets: import("node:net").Socket[] = [];
  const server = createServer((socket) => void sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      sockets.forEach((socket) => socket.destroy());
      server.close();
    },
  };
}
