// The examples in examples/ as a user runs them: copied into a temp project with the package installed as npm
// would, run with node, and each console.log must print what its `// →` comment says. first.mjs is the README's
// first example, so the Install section's code cannot rot: when README has an Install section, it must show the
// file verbatim.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { installInto, repo } from "./install.js";

const project = mkdtempSync(join(tmpdir(), "softmax-wasm-examples-"));
afterAll(() => rmSync(project, { recursive: true, force: true }));
installInto(project);
writeFileSync(join(project, "package.json"), JSON.stringify({ private: true })); // no "type": .mjs / .cjs decide

/** What the example's `// →` comments say it prints, one line each. */
function expected(source: string): string[] {
  return source.split("\n").filter((l) => l.includes("// →")).map((l) => l.slice(l.indexOf("// →") + 4).trim());
}

function run(file: string): string[] {
  copyFileSync(join(repo, "examples", file), join(project, file));
  return execFileSync(process.execPath, [file], { cwd: project, encoding: "utf8", timeout: 60_000 }).trim().split("\n");
}

describe("examples/", () => {
  const first = readFileSync(join(repo, "examples", "first.mjs"), "utf8");

  it("first.mjs (ESM) prints what its // → comment says", () => {
    expect(expected(first)).toHaveLength(1);
    expect(run("first.mjs")).toEqual(expected(first));
  });

  const [major, minor] = process.versions.node.split(".").map(Number);
  const requireEsm = major > 22 || (major === 22 && minor >= 12) || (major === 20 && minor >= 19);
  it.skipIf(!requireEsm)(`first.cjs (CommonJS: require() of an ES module, Node >= 20.19 / 22.12; this is ` +
    `${process.version}) prints the same`, () => {
      const cjs = readFileSync(join(repo, "examples", "first.cjs"), "utf8");
      expect(expected(cjs)).toEqual(expected(first));
      expect(run("first.cjs")).toEqual(expected(first));
    });

  const readme = readFileSync(join(repo, "README.md"), "utf8");
  const install = readme.match(/\n## Install\n([\s\S]*?)\n## /)?.[1];
  it.skipIf(install === undefined)("README's Install section shows first.mjs verbatim", () => {
    const blocks = [...install!.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
    expect(blocks).toContain(first);
  });
});
