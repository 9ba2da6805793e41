/** Runtime configuration, read from environment variables; an empty variable counts as unset. */
export interface Settings {
  databaseUrl?: string;
  redisUrl?: string;
  /** Memcached's servers, host:port and comma-separated (MEMCACHED_SERVERS): a cache that speaks its protocol. */
  memcachedServers?: string;
  /** smtp://host:port, smtp://user:password@host:port or smtps:// (TLS from the start): where mail goes. */
  smtpUrl?: string;
  /** The From of the mail sent (MAIL_FROM). */
  mailFrom: string;
  /** Origins of pages on other origins that may call the API from the browser (CORS_ORIGINS, comma-separated). */
  corsOrigins: string[];
  /** The path a reverse proxy or an Ingress serves the API under (ROOT_PATH, e.g. /api), which it may or may not strip. */
  rootPath: string;
  port: number;
}

export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): Settings {
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    redisUrl: env.REDIS_URL || undefined,
    memcachedServers: env.MEMCACHED_SERVERS || undefined,
    smtpUrl: env.SMTP_URL || undefined,
    mailFrom: env.MAIL_FROM || "noreply@localhost",
    corsOrigins: (env.CORS_ORIGINS ?? "").split(",").map((o) => o.trim()).filter(Boolean),
    rootPath: (env.ROOT_PATH ?? "").replace(/\/+$/, ""),
    port: Number(env.PORT || 3000),
  };
}

/** Rejects with a timeout error when `promise` takes longer than `seconds`. */
export function withTimeout<T>(promise: Promise<T>, seconds: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`no answer within ${seconds} s`)), seconds * 1000);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export class TimeoutError extends Error {
  override name = "TimeoutError";
}
