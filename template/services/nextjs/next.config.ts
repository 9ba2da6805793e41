import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  // A self-contained server (.next/standalone/server.js) with only the dependencies it needs, for the image.
  output: "standalone",
};

export default nextConfig;
