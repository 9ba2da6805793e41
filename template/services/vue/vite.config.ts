import vue from "@vitejs/plugin-vue";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [vue()],
  build: {
    outDir: "dist",
    // Hashed files land in /assets/, which nginx.conf caches as immutable.
    assetsDir: "assets",
  },
  test: {
    // Tests render with vue/server-renderer, so no DOM emulation is needed.
    environment: "node",
    include: ["src/**/*.test.ts"],
  },
});
