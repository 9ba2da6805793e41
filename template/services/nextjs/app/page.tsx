import { ApiStatus } from "./api-status";
import { API_IN_STACK, API_URL, PROJECT_DESCRIPTION, PROJECT_NAME, apiInternalUrl } from "./config";
import { API_NONE_LABEL, API_UNROUTED_LABEL, apiLabel, checkApi } from "./health";

// Rendered on each request, never at build time: the API's health is the one of the moment.
export const dynamic = "force-dynamic";

export default async function Home() {
  const internalUrl = apiInternalUrl();
  const serverState = internalUrl === null ? null : await checkApi(internalUrl);
  return (
    <main className="app">
      <h1>{PROJECT_NAME}</h1>
      {PROJECT_DESCRIPTION !== "" && <p className="description">{PROJECT_DESCRIPTION}</p>}
      {serverState !== null && (
        <p className={`api-status api-status--${serverState}`} role="status">
          {apiLabel("server", serverState)}
        </p>
      )}
      {API_URL !== null && <ApiStatus apiUrl={API_URL} />}
      {API_URL === null && API_IN_STACK && (
        <p className="api-status api-status--unreachable" role="status">
          {API_UNROUTED_LABEL}
        </p>
      )}
      {!API_IN_STACK && (
        <p className="api-status" role="status">
          {API_NONE_LABEL}
        </p>
      )}
    </main>
  );
}
