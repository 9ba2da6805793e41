import { createSSRApp } from "vue";
import { renderToString } from "vue/server-renderer";
import { describe, expect, it } from "vitest";
import App from "./App.vue";
import { API_IN_STACK, API_URL, PROJECT_DESCRIPTION, PROJECT_NAME } from "./config.ts";
import { API_STATE_LABELS, API_UNROUTED_LABEL, apiStateFromHealth, checkApi } from "./health.ts";

// Same escaping Vue applies to text content in server rendering.
function escapeHtml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

describe("App", async () => {
  const html = await renderToString(createSSRApp(App));

  it("shows the project name as the heading", () => {
    expect(PROJECT_NAME).not.toBe("");
    expect(html).toContain(`<h1>${escapeHtml(PROJECT_NAME)}</h1>`);
  });

  it("shows the description only when there is one", () => {
    if (PROJECT_DESCRIPTION === "") {
      expect(html).not.toContain('class="description"');
    } else {
      expect(html).toContain(escapeHtml(PROJECT_DESCRIPTION));
    }
  });

  it("says why the page cannot reach an API, and never stays silent", () => {
    const said = html.includes(escapeHtml(API_UNROUTED_LABEL));
    expect(said).toBe(API_URL === null && API_IN_STACK);
  });

  it("shows the API status only when the stack has an API", () => {
    // Nothing is fetched on the server, so the status is still "checking".
    const label = escapeHtml(API_STATE_LABELS.checking);
    if (API_URL === null) {
      expect(html).not.toContain(label);
    } else {
      expect(API_URL.endsWith("/")).toBe(true);
      expect(html).toContain(label);
    }
  });
});

describe("apiStateFromHealth", () => {
  it("maps the health payload to a state", () => {
    expect(apiStateFromHealth({ status: "ok", version: "1" })).toBe("up");
    expect(apiStateFromHealth({ status: "degraded" })).toBe("degraded");
    expect(apiStateFromHealth({ status: "down" })).toBe("unreachable");
    expect(apiStateFromHealth("<!doctype html>")).toBe("unreachable");
    expect(apiStateFromHealth(null)).toBe("unreachable");
  });
});

describe("checkApi", () => {
  it("asks the health endpoint under the API's URL, and never throws", async () => {
    const asked: string[] = [];
    const original = globalThis.fetch;
    globalThis.fetch = (async (input: string | URL | Request) => {
      asked.push(String(input));
      return new Response(JSON.stringify({ status: "degraded" }), { status: 503 });
    }) as typeof fetch;
    try {
      expect(await checkApi("http://localhost:8000/")).toBe("degraded");
      expect(asked).toEqual(["http://localhost:8000/health"]);
      globalThis.fetch = (async () => {
        throw new TypeError("failed to fetch");
      }) as typeof fetch;
      expect(await checkApi("/api/")).toBe("unreachable");
    } finally {
      globalThis.fetch = original;
    }
  });
});
