import { writeFileSync } from 'node:fs';
import { fileURLToPath, URL } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The portal lives in portal/; `vite build` writes portal/dist, which the Go
// binary embeds (portal/portal.go). `npm run dev` proxies the API to a
// berth serving on BERTH_DEV_BACKEND (default http://127.0.0.1:8080).
const backend = process.env.BERTH_DEV_BACKEND ?? 'http://127.0.0.1:8080';

export default defineConfig({
  root: fileURLToPath(new URL('./portal', import.meta.url)),
  plugins: [
    react(),
    {
      // emptyOutDir removes portal/dist/.gitkeep, which git tracks so that
      // go:embed finds a file on a clone that never built the portal.
      name: 'berth-keep-gitkeep',
      apply: 'build',
      closeBundle() {
        writeFileSync(fileURLToPath(new URL('./portal/dist/.gitkeep', import.meta.url)), '');
      },
    },
  ],
  resolve: {
    alias: { '@': fileURLToPath(new URL('./portal/src', import.meta.url)) },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1200,
    rolldownOptions: {
      // Two pages: the portal, and GraphiQL (graph/ serves it for
      // GET /graphql from a browser). GraphiQL's editor is large; as its
      // own entry it never weighs on the portal.
      input: {
        main: fileURLToPath(new URL('./portal/index.html', import.meta.url)),
        graphiql: fileURLToPath(new URL('./portal/graphiql.html', import.meta.url)),
      },
    },
  },
  // GraphiQL's Monaco workers are code-split modules.
  worker: { format: 'es' },
  server: {
    proxy: Object.fromEntries(
      ['/graphql', '/auth', '/v2', '/service', '/healthz'].map((p) => [p, { target: backend, changeOrigin: false }]),
    ),
  },
});
