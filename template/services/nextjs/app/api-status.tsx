"use client";

import { useEffect, useState } from "react";
import { type ApiState, apiLabel, checkApi } from "./health";

// Asked again while the page is open: the API may start after the page, or restart.
const POLL_MILLISECONDS = 10_000;

/** The API's health as this browser reaches it (through the reverse proxy, or the API's own port). */
export function ApiStatus({ apiUrl }: { apiUrl: string }) {
  const [state, setState] = useState<ApiState>("checking");

  useEffect(() => {
    const controller = new AbortController();
    const check = () =>
      void checkApi(apiUrl, controller.signal).then((result) => {
        if (!controller.signal.aborted) setState(result);
      });
    check();
    const timer = setInterval(check, POLL_MILLISECONDS);
    return () => {
      clearInterval(timer);
      controller.abort();
    };
  }, [apiUrl]);

  return (
    <p className={`api-status api-status--${state}`} role="status">
      {apiLabel("browser", state)}
    </p>
  );
}
