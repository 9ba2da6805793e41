import { renderToString } from "react-dom/server";
import { describe, expect, it } from "vitest";
import App from "./App.tsx";
import { API_IN_STACK, API_URL, PROJECT_DESCRIPTION, PROJECT_NAME } from "./config.ts";
import { API_STATE_LABELS, API_UNROUTED_LABEL, apiStateFromHealth } from "./health.ts";

// Same escaping React applies to text content in server rendering.
function escapeHtml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#x27;");
}

describe("App", () => {
  const html = renderToString(<App />);

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

  it("says why the page cannot reach an API that no proxy serves beside it, and never stays silent", () => {
    const said = html.includes(escapeHtml(API_UNROUTED_LABEL));
    expect(said).toBe(API_URL === null && API_IN_STACK);
  });

  it("shows the API status only when the stack has an API", () => {
    // Effects do not run on the server, so the status is still "checking".
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
