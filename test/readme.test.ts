// The README's examples are a spec too: every ```js block with `// →` comments runs in its own Node process (blocks
// without imports after the API section's shared setup block), and each console.log must print what its `// →`
// comment says (`...` stands for any digits the README leaves out). An arrow on a line of its own belongs to the
// statement above it.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));
// inside the package, so `import ... from 'softmax-wasm'` resolves to it by self-reference
const dir = fileURLToPath(new URL("./artifacts/readme/", import.meta.url));
const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
const setup = blocks.find((b) => b.includes("const show ="));

interface Expectation { line: number; text: string }

/** The block with each console.log( tagged with its line, and what each tagged line must print. */
function instrument(block: string): { code: string; expected: Expectation[] } {
  const lines = block.split("\n");
  const expected: Expectation[] = [];
  let statement = -1;
  const code = lines.map((l, i) => {
    const arrow = l.indexOf("// →");
    if (arrow >= 0) expected.push({ line: l.slice(0, arrow).trim() === "" ? statement : i, text: l.slice(arrow + 4).trim() });
    if (l.trim() !== "" && !l.trim().startsWith("//")) statement = i;
    return l.replaceAll("console.log(", `__log(${i}, `);
  }).join("\n");
  return { code, expected };
}

const preamble = 'import { format as __format } from "node:util";\n' +
  'const __log = (line, ...a) => process.stdout.write(JSON.stringify([line, __format(...a)]) + "\\n");\n';

function pattern(text: string): RegExp {
  return new RegExp(`^${text.split("...").map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("\\d*")}$`);
}

mkdirSync(dir, { recursive: true });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const runnable = blocks.map((b, i) => ({ i, b })).filter(({ b }) => b.includes("// →"));

describe("README examples print what their // → comments say", () => {
  it("finds the shared setup and the examples", () => {
    expect(setup).toBeDefined();
    expect(runnable.length).toBeGreaterThanOrEqual(14);
  });

  it.each(runnable.map(({ i, b }) => [`block ${i}: ${b.split("\n")[0].slice(0, 60)}`, b]))("%s", (_, block) => {
    const own = /^import .* from 'softmax-wasm';$/m.test(block);
    const { code, expected } = instrument(block);
    const file = `${dir}/block-${blocks.indexOf(block)}.mjs`;
    writeFileSync(file, preamble + (own ? "" : `${setup}\n`) + code);
    const out = execFileSync(process.execPath, [file], { cwd: root, encoding: "utf8", timeout: 120_000 });
    const printed = new Map<number, string[]>();
    for (const l of out.trim().split("\n")) {
      const [line, text] = JSON.parse(l) as [number, string];
      printed.set(line, [...(printed.get(line) ?? []), text]);
    }
    expect(expected.length).toBeGreaterThan(0);
    for (const e of expected) {
      const got = printed.get(e.line);
      expect(got, `line ${e.line + 1} of the block printed nothing`).toBeDefined();
      expect(got!.at(-1), `line ${e.line + 1}`).toMatch(pattern(e.text));
    }
  }, 120_000);
});
