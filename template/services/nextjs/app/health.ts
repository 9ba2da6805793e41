export type ApiState = "checking" | "up" | "degraded" | "unreachable";

/** Maps the body of the backend's health endpoint to what the page shows. */
export function apiStateFromHealth(body: unknown): Exclude<ApiState, "checking"> {
  if (typeof body === "object" && body !== null && "status" in body) {
    const { status } = body as { status: unknown };
    if (status === "ok") return "up";
    if (status === "degraded") return "degraded";
  }
  return "unreachable";
}

/** Fetches `${apiUrl}health` once; never throws. A hung API is unreachable after 5 s, so no page waits longer. */
export async function checkApi(
  apiUrl: string,
  signal: AbortSignal = AbortSignal.timeout(5000),
): Promise<Exclude<ApiState, "checking">> {
  try {
    const response = await fetch(`${apiUrl}health`, {
      headers: { Accept: "application/json" },
      // The answer of the moment: neither Next's data cache nor the browser's may keep it.
      cache: "no-store",
      signal,
    });
    // A degraded backend may answer 503 with a JSON body, so read it whatever the status code.
    return apiStateFromHealth(await response.json());
  } catch {
    return "unreachable";
  }
}

const STATE_WORDS: Record<ApiState, string> = {
  checking: "checking…",
  up: "up",
  degraded: "degraded",
  unreachable: "unreachable",
};

/** What the page says of the API, asked by the server that renders it or by the browser that shows it. */
export function apiLabel(askedBy: "server" | "browser", state: ApiState): string {
  return `API, asked by the ${askedBy}: ${STATE_WORDS[state]}`;
}

/** The stack has no API: the page asks nothing. */
export const API_NONE_LABEL = "API: this stack has no backend, so the page asks nothing";

/** The stack has an API, but neither a reverse proxy nor a published port of its own lets the browser ask it. */
export const API_UNROUTED_LABEL =
  "API: not reachable from the browser: neither a reverse proxy nor a port of its own serves it";
