import { defineConfig } from 'vitest/config';

// The conformance report's own tests (pure: JUnit text in, markdown out), kept out of the kind
// suite's config, which needs a cluster: npx vitest run --config e2e/conformance/vitest.config.ts
export default defineConfig({
  test: { root: new URL('../..', import.meta.url).pathname, include: ['e2e/conformance/**/*.spec.ts'] },
});
