// The package as `npm install softmax-wasm` leaves it, for the tests that use it from outside this repo: the files
// `npm pack` would put in the tarball copied into <project>/node_modules/softmax-wasm (no build: prepack is skipped).
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const repo = fileURLToPath(new URL("..", import.meta.url));

/**
 * The npm that came with this Node, not the first npm on PATH: inside npm scripts and npx that is
 * node_modules/.bin/npm, an npm 6 that a dependency ships (which also runs the nested `npm run`s of `npm test`, so
 * npm_execpath names it too), and npm 6 has no `npm pkg`.
 */
const besideNode = join(dirname(process.execPath), "..", "lib", "node_modules", "npm", "bin", "npm-cli.js");
export const NPM_CLI = existsSync(besideNode) ? besideNode : process.env.npm_execpath ?? "npm-cli.js";

/** Runs npm (NPM_CLI) in `cwd`; its stdout. */
export function npm(args: string[], cwd = repo): string {
  return execFileSync(process.execPath, [NPM_CLI, ...args], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** The paths `npm pack` would put in the tarball. */
export function packedFiles(): string[] {
  return (JSON.parse(npm(["pack", "--dry-run", "--json", "--ignore-scripts"])) as { files: { path: string }[] }[])[0]
    .files.map((f) => f.path);
}

/** Installs the packed files into `project`/node_modules/softmax-wasm. */
export function installInto(project: string): void {
  const pkg = join(project, "node_modules", "softmax-wasm");
  for (const f of packedFiles()) {
    mkdirSync(dirname(join(pkg, f)), { recursive: true });
    cpSync(join(repo, f), join(pkg, f));
  }
}
