import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// `npm run dev` serves the dashboard with hot reload and sends API, ingest and SDK requests to a
// gateway on :8000 (`make run`). `npm run build` writes ../static/dashboard for the gateway.
const gateway = process.env.TME_GATEWAY_URL || "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "../static/dashboard",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: { "/api": gateway, "/v1": gateway, "/sdk": gateway },
  },
});
