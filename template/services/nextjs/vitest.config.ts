import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Tests render with react-dom/server, so no DOM emulation is needed.
    environment: "node",
    include: ["app/**/*.test.{ts,tsx}"],
  },
});
