import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import express from "express";
import { register } from "prom-client";
import { type App, createApp } from "../app.js";
import { metricsServer, metricsText } from "../metrics.js";
import { settingsFromEnv } from "../settings.js";

/** The app with routes of the test's own added, served on a free local port. */
async function serve(addRoutes: (handler: express.Express) => void): Promise<{ base: string; close(): Promise<void> }> {
  const app: App = createApp({ ...settingsFromEnv({}), port: 0 });
  addRoutes(app.handler);
  const server = app.handler.listen(0, "127.0.0.1");
  await new Promise<void>((resolve) => server.once("listening", resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await app.close();
    },
  };
}

/** The value of http_requests_total for these labels, 0 before the first such request. */
async function counted(method: string, route: string, status: number): Promise<number> {
  const metric = await register.getSingleMetric("http_requests_total")?.get();
  const found = metric?.values.find(({ labels }) =>
    labels.method === method && labels.route === route && labels.status === String(status));
  return found?.value ?? 0;
}

test("test_requests_are_counted_under_their_route_path", async () => {
  const name = `n${randomUUID()}`;
  const api = await serve((handler) => {
    handler.get("/greetings/:name", (request, response) => void response.json({ hello: request.params.name }));
    const shelves = express.Router();
    shelves.get("/:shelf/books/:book", (_request, response) => void response.json({ found: true }));
    handler.use("/shelves", shelves);
  });
  try {
    const before = await counted("GET", "/greetings/:name", 200);
    const nestedBefore = await counted("GET", "/shelves/:shelf/books/:book", 200);
    assert.equal((await fetch(`${api.base}/greetings/${name}`)).status, 200);
    assert.equal((await fetch(`${api.base}/greetings/${name}`)).status, 200);
    assert.equal((await fetch(`${api.base}/shelves/top/books/${name}`)).status, 200);
    assert.equal(await counted("GET", "/greetings/:name", 200), before + 2);
    // a router's routes under the path it is mounted at
    assert.equal(await counted("GET", "/shelves/:shelf/books/:book", 200), nestedBefore + 1);
    const text = await metricsText();
    assert.match(text, /http_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/greetings\/:name"\}/);
    // the route, never the path: a label value per id would grow without bound
    assert.ok(!text.includes(name));
  } finally {
    await api.close();
  }
});

test("test_unknown_paths_are_counted_as_unmatched", async () => {
  const api = await serve(() => undefined);
  try {
    const before = await counted("GET", "unmatched", 404);
    const path = `/no-such-page/${randomUUID()}`;
    assert.equal((await fetch(api.base + path)).status, 404);
    assert.equal(await counted("GET", "unmatched", 404), before + 1);
    assert.ok(!(await metricsText()).includes(path));
  } finally {
    await api.close();
  }
});

test("test_a_server_error_is_counted_with_its_status", async () => {
  const api = await serve((handler) => {
    handler.get("/broken", (_request, response) => void response.status(500).json({ detail: "broken on purpose" }));
  });
  try {
    const before = await counted("GET", "/broken", 500);
    assert.equal((await fetch(`${api.base}/broken`)).status, 500);
    assert.equal(await counted("GET", "/broken", 500), before + 1);
  } finally {
    await api.close();
  }
});

test("test_metrics_are_served_on_a_server_of_their_own", async () => {
  const api = await serve(() => undefined);
  const metrics = metricsServer().listen(0, "127.0.0.1");
  await new Promise<void>((resolve) => metrics.once("listening", resolve));
  try {
    assert.equal((await fetch(`${api.base}/health`)).status, 200);
    const base = `http://127.0.0.1:${(metrics.address() as AddressInfo).port}`;
    const response = await fetch(`${base}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^text\/plain/);
    const text = await response.text();
    assert.match(text, /^http_requests_total\{method="GET",route="\/health",status="200"\} \d+$/m);
    assert.match(text, /^process_cpu_user_seconds_total /m); // the process's own, collectDefaultMetrics
    assert.equal((await fetch(`${base}/elsewhere`)).status, 404);
    // not on the app's port, which the reverse proxy routes
    assert.equal((await fetch(`${api.base}/metrics`)).status, 404);
  } finally {
    await new Promise<void>((resolve) => metrics.close(() => resolve()));
    await api.close();
  }
});
