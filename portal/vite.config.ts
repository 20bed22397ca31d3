// Vite's build of the portal: one entry (index.html), hashed assets under assets/
// (served immutable by the cloud and the local server), no inline script or style
// (the CSP allows neither), and a source map kept out of the bundle-size figure.
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    assetsDir: "assets",
    sourcemap: false,
    // Never inline small assets as data: URIs into CSS/JS; they are files like the rest.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  server: { port: 5173, strictPort: false },
});
