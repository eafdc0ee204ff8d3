#!/usr/bin/env node
// The softmax-wasm command: the CLI is dist/cli.js (npm run build); see `softmax-wasm --help`.
import { main } from "../dist/cli.js";

// a reader that went away (`softmax-wasm train | head`) ends the run quietly
process.stdout.on("error", (err) => {
  if (err.code !== "EPIPE") throw err;
  process.exit(0);
});
process.exitCode = await main(process.argv.slice(2));
