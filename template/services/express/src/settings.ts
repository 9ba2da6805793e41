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
  /** The S3 API of the object storage (S3_ENDPOINT_URL, e.g. http://minio:9000), addressed path-style. */
  s3EndpointUrl?: string;
  /** The region its requests are signed for (S3_REGION, us-east-1 when unset, which MinIO takes). */
  s3Region: string;
  /** The bucket the files are kept in (S3_BUCKET); the storage creates it, not the app. */
  s3Bucket?: string;
  /** The keys the S3 requests are signed with (S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY). */
  s3AccessKeyId?: string;
  s3SecretAccessKey?: string;
  /** Origins of pages on other origins that may call the API from the browser (CORS_ORIGINS, comma-separated). */
  corsOrigins: string[];
  /** The path a reverse proxy or an Ingress serves the API under (ROOT_PATH, e.g. /api), which it may or may not strip. */
  rootPath: string;
  port: number;
  /** The port the Prometheus metrics are served on (METRICS_PORT, 9464 in the image), never the app's; unset: none. */
  metricsPort?: number;
}

export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): Settings {
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    redisUrl: env.REDIS_URL || undefined,
    memcachedServers: env.MEMCACHED_SERVERS || undefined,
    smtpUrl: env.SMTP_URL || undefined,
    mailFrom: env.MAIL_FROM || "noreply@localhost",
    s3EndpointUrl: env.S3_ENDPOINT_URL || undefined,
    s3Region: env.S3_REGION || "us-east-1",
    s3Bucket: env.S3_BUCKET || undefined,
    s3AccessKeyId: env.S3_ACCESS_KEY_ID || undefined,
    s3SecretAccessKey: env.S3_SECRET_ACCESS_KEY || undefined,
    corsOrigins: (env.CORS_ORIGINS ?? "").split(",").map((o) => o.trim()).filter(Boolean),
    rootPath: (env.ROOT_PATH ?? "").replace(/\/+$/, ""),
    port: Number(env.PORT || 3000),
    metricsPort: env.METRICS_PORT ? Number(env.METRICS_PORT) : undefined,
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
