import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The web UI is served by `clusterlab serve` (and the desktop window) from
// frontend/dist, next to the API under /api/v1, so it uses relative URLs.
// `npm run dev` proxies the API to a running `clusterlab serve` given by
// CLUSTERLAB_URL (e.g. http://127.0.0.1:PORT).
export default defineConfig({
  plugins: [svelte()],
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 1200,
  },
  server: {
    proxy: process.env.CLUSTERLAB_URL
      ? { '/api': { target: process.env.CLUSTERLAB_URL, changeOrigin: true } }
      : undefined,
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
  resolve: process.env.VITEST ? { conditions: ['browser'] } : undefined,
});
