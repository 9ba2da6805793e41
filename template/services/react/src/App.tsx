import { useEffect, useState } from "react";
import { API_IN_STACK, API_URL, PROJECT_DESCRIPTION, PROJECT_NAME } from "./config.ts";
import { API_STATE_LABELS, API_UNROUTED_LABEL, checkApi, type ApiState } from "./health.ts";

function ApiStatus({ apiUrl }: { apiUrl: string }) {
  const [state, setState] = useState<ApiState>("checking");

  useEffect(() => {
    const controller = new AbortController();
    void checkApi(apiUrl, controller.signal).then((result) => {
      if (!controller.signal.aborted) setState(result);
    });
    return () => controller.abort();
  }, [apiUrl]);

  return (
    <p className={`api-status api-status--${state}`} role="status">
      {API_STATE_LABELS[state]}
    </p>
  );
}

export default function App() {
  return (
    <main className="app">
      <h1>{PROJECT_NAME}</h1>
      {PROJECT_DESCRIPTION !== "" && <p className="description">{PROJECT_DESCRIPTION}</p>}
      {API_URL !== null && <ApiStatus apiUrl={API_URL} />}
      {API_URL === null && API_IN_STACK && (
        <p className="api-status api-status--unreachable" role="status">
          {API_UNROUTED_LABEL}
        </p>
      )}
    </main>
  );
}
