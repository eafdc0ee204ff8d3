import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"], // the as-pect specs under assembly/__tests__ are not vitest's
    testTimeout: 60_000,
  },
});
