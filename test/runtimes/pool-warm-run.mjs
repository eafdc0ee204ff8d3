// Child of test/pool-warm.test.ts, run with --trace-wasm-compilation-times: ready({ threads: 2 }), then half a second
// idle (the background compiles finish), then the marker; nothing else runs a kernel.
import { ready } from "../../dist/index.js";

await ready({ threads: 2 });
await new Promise((r) => setTimeout(r, 500));
console.log("MARK ready");
process.exit(0);
