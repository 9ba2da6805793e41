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

/** Fetches `${apiUrl}health` once; never throws. */
export async function checkApi(
  apiUrl: string,
  signal?: AbortSignal,
): Promise<Exclude<ApiState, "checking">> {
  try {
    const response = await fetch(`${apiUrl}health`, {
      headers: { Accept: "application/json" },
      signal,
    });
    // A degraded backend may answer 503 with a JSON body, so read it whatever the status code.
    return apiStateFromHealth(await response.json());
  } catch {
    return "unreachable";
  }
}

/** The stack has an API, but neither a reverse proxy nor a published port of its own lets the browser ask it. */
export const API_UNROUTED_LABEL =
  "API: not reachable from this page: neither a reverse proxy nor a port of its own serves it to the browser";

export const API_STATE_LABELS: Record<ApiState, string> = {
  checking: "API: checking…",
  up: "API: up",
  degraded: "API: degraded",
  unreachable: "API: unreachable",
};
