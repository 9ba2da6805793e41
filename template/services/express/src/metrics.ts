/**
 * Prometheus metrics: every HTTP request counted and timed by the route it matched, and the process's own metrics,
 * served on a port of their own (METRICS_PORT, 9464 in the image), which the reverse proxy never routes and compose
 * never publishes.
 */
import { createServer, type Server } from "node:http";
import type { NextFunction, Request, Response } from "express";
import { collectDefaultMetrics, Counter, Histogram, register } from "prom-client";

/** A path no route matched (a 404, a CORS preflight a middleware answers): one label value, not one per path. */
export const UNMATCHED = "unmatched";

const requests = new Counter({
  name: "http_requests_total",
  help: "HTTP requests answered, by method, route path and status",
  labelNames: ["method", "route", "status"] as const,
});
const duration = new Histogram({
  name: "http_request_duration_seconds",
  help: "Time to answer an HTTP request, by method and route path",
  labelNames: ["method", "route"] as const,
});

/** The route path Express matched (/items/:id, below the path of its router), never the path itself. */
function routeOf(request: Request): string {
  const path: unknown = request.route?.path;
  return typeof path === "string" ? request.baseUrl + path : UNMATCHED;
}

/** Middleware, first of the app: counts and times each request once its answer is sent. */
export function countRequests(request: Request, response: Response, next: NextFunction): void {
  const stop = duration.startTimer();
  response.once("finish", () => {
    const route = routeOf(request);
    stop({ method: request.method, route });
    requests.inc({ method: request.method, route, status: String(response.statusCode) });
  });
  next();
}

let collectingProcessMetrics = false;

/** The metrics of the process in Prometheus's text format. */
export function metricsText(): Promise<string> {
  return register.metrics();
}

/**
 * A server of its own for the metrics at /metrics, with the process's default metrics (CPU, memory, event loop):
 * started by server.ts, the process's entry, never by the app that the tests build many times.
 */
export function metricsServer(): Server {
  if (!collectingProcessMetrics) {
    collectDefaultMetrics();
    collectingProcessMetrics = true;
  }
  return createServer((request, response) => {
    if (request.method !== "GET" || (request.url ?? "").split("?")[0] !== "/metrics") {
      response.writeHead(404).end();
      return;
    }
    metricsText().then(
      (text) => response.writeHead(200, { "Content-Type": register.contentType }).end(text),
      (error: unknown) => {
        console.error(`metrics failed: ${error instanceof Error ? error.name : typeof error}`);
        response.writeHead(500).end();
      },
    );
  });
}
