// writeFileAtomic: every file the CLI writes and every file the MNIST download caches goes through it (Node).
import { randomBytes } from "node:crypto";
import { unlinkSync } from "node:fs";
import { chmod, open, realpath, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";

/** Temporary files being written, removed by removeTemporaries (the CLI's second Ctrl-C exits at once). */
const temporaries = new Set<string>();

export function removeTemporaries(): void {
  for (const temp of temporaries) {
    try {
      unlinkSync(temp);
    } catch {
      // already renamed or never created
    }
  }
}

/**
 * Writes `bytes` to `file` atomically: to `<file>.<pid>.<random>.tmp` in the same folder, synced, then renamed
 * over `file` (atomic on POSIX), so `file` holds the old bytes or the new ones, never a part: an interrupt or a
 * full disk mid-write leaves it as it was (and the temporary file is removed). An existing file keeps its
 * permissions; a symbolic link stays one (the file it names is replaced).
 */
export async function writeFileAtomic(file: string, bytes: Uint8Array): Promise<void> {
  const target = await realpath(file).catch(() => resolve(file));
  const old = await stat(target).catch(() => undefined);
  const temp = join(dirname(target), `${basename(target)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  temporaries.add(temp);
  try {
    const handle = await open(temp, "wx");
    try {
      if (old !== undefined) await chmod(temp, old.mode & 0o7777);
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  } finally {
    temporaries.delete(temp);
  }
}
