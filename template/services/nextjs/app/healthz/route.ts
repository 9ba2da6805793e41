/** The container's healthcheck: answers while the server runs, whatever the API does. */
export function GET(): Response {
  return new Response("ok\n", { headers: { "Content-Type": "text/plain", "Cache-Control": "no-store" } });
}
