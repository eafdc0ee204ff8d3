// Firefox (SpiderMonkey) for the browser tests: Debian's firefox-esr driven by puppeteer-core over WebDriver BiDi,
// never a downloaded browser. Each launch gets a fresh profile in a temp dir with prefs that keep Firefox off the
// network (the tests only talk to 127.0.0.1), and close() ends the whole process tree and removes the profile.
// The rule for a missing Firefox is Chromium's (test/bundlers/serve.js): skipped with the reason in the suite's name,
// except with CI=true, where the tests run and fail in launchFirefox().
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "puppeteer-core";

export const FIREFOX = process.env.FIREFOX_BIN ?? "/usr/bin/firefox-esr";

/** Why the Firefox tests are skipped, or undefined when they run (never a reason with CI=true). */
export function firefoxSkipReason(): string | undefined {
  if (existsSync(FIREFOX) || process.env.CI === "true") return undefined;
  return `${FIREFOX} not found (install Debian's firefox-esr package; with CI=true this is a failure, not a skip)`;
}

// On top of puppeteer's own test profile (which already turns off updates, safebrowsing, health reports, remote
// settings' server and more): whatever else would reach for the network on a fresh profile.
const QUIET: Record<string, string | number | boolean> = {
  "app.update.auto": false,
  "app.update.enabled": false,
  "app.update.staging.enabled": false,
  "app.normandy.enabled": false,
  "app.shield.optoutstudies.enabled": false,
  "browser.discovery.enabled": false,
  "browser.newtabpage.activity-stream.feeds.section.topstories": false,
  "browser.newtabpage.activity-stream.feeds.snippets": false,
  "browser.newtabpage.activity-stream.feeds.telemetry": false,
  "browser.newtabpage.activity-stream.telemetry": false,
  "browser.ping-centre.telemetry": false,
  "browser.region.network.url": "",
  "browser.region.update.enabled": false,
  "browser.safebrowsing.provider.google.updateURL": "",
  "browser.safebrowsing.provider.google4.updateURL": "",
  "browser.safebrowsing.provider.mozilla.updateURL": "",
  "browser.safebrowsing.update.enabled": false,
  "browser.search.geoip.url": "",
  "browser.topsites.contile.enabled": false,
  "browser.urlbar.quicksuggest.enabled": false,
  "captivedetect.canonicalURL": "",
  "datareporting.policy.dataSubmissionEnabled": false,
  "dom.push.connection.enabled": false,
  "dom.push.serverURL": "",
  "extensions.blocklist.enabled": false,
  "extensions.getAddons.showPane": false,
  "extensions.systemAddon.update.enabled": false,
  "media.gmp-gmpopenh264.enabled": false,
  "media.gmp-manager.url": "",
  "messaging-system.rsexperimentloader.enabled": false,
  "network.captive-portal-service.enabled": false,
  "network.connectivity-service.enabled": false,
  "network.dns.disablePrefetch": true,
  "network.predictor.enabled": false,
  "network.prefetch-next": false,
  "network.trr.mode": 5,
  "privacy.sanitize.sanitizeOnShutdown": false,
  "security.OCSP.enabled": 0,
  "security.remote_settings.crlite_filters.enabled": false,
  "security.remote_settings.intermediates.enabled": false,
  "services.settings.poll_interval": 86_400 * 365,
  "services.settings.server": "http://127.0.0.1:9/v1", // the discard port: refused at once, no DNS
  "services.sync.enabled": false,
  "toolkit.telemetry.archive.enabled": false,
  "toolkit.telemetry.enabled": false,
  "toolkit.telemetry.server": "",
  "toolkit.telemetry.unified": false,
  "toolkit.telemetry.updatePing.enabled": false,
  "toolkit.telemetry.shutdownPingSender.enabled": false,
  "toolkit.telemetry.firstShutdownPing.enabled": false,
  "toolkit.telemetry.newProfilePing.enabled": false,
  "toolkit.telemetry.bhrPing.enabled": false,
};

export interface Firefox {
  browser: Browser;
  /**
   * Closes the browser (at most 5 s politely), then kills what is left of its process tree (the group and every
   * descendant seen) and removes the profile. Calling it again waits for the first call.
   */
  close(): Promise<void>;
  /** After close(): the browser's processes still running (should be none) and whether the profile dir remains. */
  remains(): { processes: number[]; profile: boolean };
}

/** Starts headless Firefox on a fresh profile; fails within `timeout` ms if it does not come up. */
export async function launchFirefox(timeout = 30_000): Promise<Firefox> {
  if (!existsSync(FIREFOX)) {
    throw new Error(`${FIREFOX} not found: the Firefox tests need Debian's firefox-esr (apt-get install firefox-esr)`);
  }
  const { default: puppeteer } = await import("puppeteer-core");
  const profile = mkdtempSync(join(tmpdir(), "softmax-wasm-firefox-"));
  let browser: Browser;
  try {
    browser = await puppeteer.launch({
      browser: "firefox",
      executablePath: FIREFOX,
      protocol: "webDriverBiDi",
      headless: true,
      userDataDir: profile,
      extraPrefsFirefox: QUIET,
      timeout,
      protocolTimeout: 120_000,
      // puppeteer's own signal handlers would call process.exit in vitest's worker; close() is ours
      handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false,
      // release builds ignore services.settings.server (remote settings) unless MOZ_REMOTE_SETTINGS_DEVTOOLS is set
      env: { ...process.env, MOZ_CRASHREPORTER_DISABLE: "1", MOZ_DISABLE_AUTO_SAFE_MODE: "1", MOZ_REMOTE_SETTINGS_DEVTOOLS: "1" },
    });
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  const pid = browser.process()?.pid;
  // should the test process end without close() (a crash, a timeout's exit), the browser ends with it
  const onExit = () => { if (pid !== undefined) kill(-pid); };
  process.once("exit", onExit);
  const seen = new Set<number>(pid === undefined ? [] : [pid]);
  let closing: Promise<void> | undefined;
  const close = async () => {
    process.off("exit", onExit);
    if (pid !== undefined) for (const p of descendants(pid)) seen.add(p);
    await Promise.race([browser.close().catch(() => {}), new Promise((ok) => setTimeout(ok, 5_000))]);
    if (pid !== undefined) {
      kill(-pid); // the launcher starts Firefox as a process group leader
      for (const p of descendants(pid)) seen.add(p);
      for (const p of seen) kill(p);
      for (let i = 0; i < 40 && running([...seen]).length > 0; i++) await new Promise((ok) => setTimeout(ok, 50));
    }
    rmSync(profile, { recursive: true, force: true });
  };
  return {
    browser,
    close: () => (closing ??= close()),
    remains: () => ({ processes: running([...seen]), profile: existsSync(profile) }),
  };
}

/** The pids of `pids` that still run (a zombie, dead but not yet reaped by its parent, does not). */
function running(pids: number[]): number[] {
  return pids.filter((p) => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
    } catch {
      return false;
    }
  });
}

function kill(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/** The pids below `root` now (from /proc; empty where there is no /proc). */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  } catch {
    return [];
  }
  for (const d of entries) {
    try {
      // the fields after the command's closing parenthesis: state, ppid, ...
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const todo = [root];
  while (todo.length > 0) {
    for (const c of children.get(todo.pop()!) ?? []) {
      out.push(c);
      todo.push(c);
    }
  }
  return out;
}

/**
 * Collects what a page reports as going wrong: console errors, uncaught errors, failed requests and HTTP errors
 * (as watchPage in test/bundlers/serve.js does for Chromium).
 */
export function watchFirefoxPage(page: Page): string[] {
  const problems: string[] = [];
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console.error: ${m.text()}`); });
  page.on("pageerror", (e) => problems.push(`page error: ${(e as Error).message ?? String(e)}`));
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`));
  page.on("response", (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });
  return problems;
}
