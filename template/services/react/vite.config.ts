import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    // Hashed files land in /assets/, which nginx.conf caches as immutable.
    assetsDir: "assets",
  },
  test: {
    // Tests render with react-dom/server, so no DOM emulation is needed.
    environment: "node",
    include: ["src/**/*.test.{ts,tsx}"],
  },
});
