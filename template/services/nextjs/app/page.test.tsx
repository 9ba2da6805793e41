import { renderToString } from "react-dom/server";
import { afterEach, describe, expect, it, vi } from "vitest";
import { API_IN_STACK, API_URL, PROJECT_DESCRIPTION, PROJECT_NAME, apiInternalUrl } from "./config";
import { API_NONE_LABEL, API_UNROUTED_LABEL, apiLabel, apiStateFromHealth, checkApi } from "./health";
import { GET } from "./healthz/route";
import { metadata } from "./layout";
import Home from "./page";

// Same escaping React applies to text content in server rendering.
function escapeHtml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#x27;");
}

/** fetch answering every request with this health body and status, or failing as a refused connection does. */
function stubFetch(answer: { body: unknown; status?: number } | "refused") {
  const fetch = vi.fn(async (_url: string, _init?: RequestInit) => {
    if (answer === "refused") throw new TypeError("fetch failed");
    return Response.json(answer.body, { status: answer.status ?? 200 });
  });
  vi.stubGlobal("fetch", fetch);
  return fetch;
}

/** The page as the server renders it (client effects do not run there). */
async function renderHome(): Promise<string> {
  return renderToString(await Home());
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("the page", () => {
  it("shows the project name as the heading and the title", async () => {
    stubFetch({ body: { status: "ok" } });
    expect(PROJECT_NAME).not.toBe("");
    expect(await renderHome()).toContain(`<h1>${escapeHtml(PROJECT_NAME)}</h1>`);
    expect(metadata.title).toBe(PROJECT_NAME);
  });

  it("shows the description only when there is one", async () => {
    stubFetch({ body: { status: "ok" } });
    const html = await renderHome();
    if (PROJECT_DESCRIPTION === "") {
      expect(html).not.toContain('class="description"');
    } else {
      expect(html).toContain(escapeHtml(PROJECT_DESCRIPTION));
    }
  });

  it("shows the API up, degraded or down as its health answers the server; without an API, says so and asks nothing", async () => {
    const answers = [
      [{ body: { status: "ok" } }, "up"],
      [{ body: { status: "degraded" }, status: 503 }, "degraded"],
      ["refused", "unreachable"],
    ] as const;
    for (const [answer, state] of answers) {
      const fetch = stubFetch(answer);
      const html = await renderHome();
      if (API_IN_STACK) {
        expect(fetch).toHaveBeenCalledWith(`${apiInternalUrl()}health`, expect.anything());
        expect(html).toContain(escapeHtml(apiLabel("server", state)));
        expect(html).not.toContain(escapeHtml(API_NONE_LABEL));
      } else {
        expect(fetch).not.toHaveBeenCalled();
        expect(html).toContain(escapeHtml(API_NONE_LABEL));
        expect(html).not.toContain("API, asked by");
      }
    }
  });

  it("leaves the browser's check to the browser: still checking on the server", async () => {
    stubFetch({ body: { status: "ok" } });
    const said = (await renderHome()).includes(escapeHtml(apiLabel("browser", "checking")));
    expect(said).toBe(API_URL !== null);
    if (API_URL !== null) expect(API_URL.endsWith("/")).toBe(true);
  });

  it("says why the browser cannot reach an API that no proxy serves beside it, and never stays silent", async () => {
    stubFetch({ body: { status: "ok" } });
    const said = (await renderHome()).includes(escapeHtml(API_UNROUTED_LABEL));
    expect(said).toBe(API_URL === null && API_IN_STACK);
  });
});

describe("checkApi", () => {
  it("asks the health endpoint under the URL and never throws", async () => {
    const fetch = stubFetch({ body: { status: "ok" } });
    expect(await checkApi("http://api.test/")).toBe("up");
    expect(fetch.mock.calls[0]?.[0]).toBe("http://api.test/health");
    stubFetch("refused");
    expect(await checkApi("http://api.test/")).toBe("unreachable");
  });

  it("maps the health payload to a state", () => {
    expect(apiStateFromHealth({ status: "ok", version: "1" })).toBe("up");
    expect(apiStateFromHealth({ status: "degraded" })).toBe("degraded");
    expect(apiStateFromHealth({ status: "down" })).toBe("unreachable");
    expect(apiStateFromHealth("<!doctype html>")).toBe("unreachable");
    expect(apiStateFromHealth(null)).toBe("unreachable");
  });
});

describe("/healthz", () => {
  it("answers 200 without asking the API", async () => {
    const fetch = stubFetch("refused");
    const response = GET();
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("ok\n");
    expect(fetch).not.toHaveBeenCalled();
  });
});
