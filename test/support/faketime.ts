import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "./kiln.js";

/** libfaketime (Debian package `faketime`), preloaded directly so a test can move a Kiln's clock from a file while it runs. */
export const LIBFAKETIME = ["/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1", "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1", "/usr/lib/faketime/libfaketimeMT.so.1"].find(
  (p) => existsSync(p),
);

/**
 * A wall clock for a spawned Kiln: `env` goes into its environment, `set` moves it. libfaketime
 * rereads the file at most once a second, so wait that long after a move. Timers keep the real
 * monotonic clock: a timer armed before a move still waits its real duration.
 */
export function movableClock(): { env: Record<string, string>; set(offsetSeconds: number): void; setNow(iso: string): Promise<void> } {
  const file = join(tempDir("clock"), "offset");
  const set = (offsetSeconds: number) => writeFileSync(file, `${offsetSeconds >= 0 ? "+" : ""}${Math.round(offsetSeconds)}`);
  set(0);
  return {
    env: { LD_PRELOAD: LIBFAKETIME ?? "", FAKETIME_TIMESTAMP_FILE: file, FAKETIME_CACHE_DURATION: "1", DONT_FAKE_MONOTONIC: "1" },
    set,
    /** Moves the clock so that it reads `iso` now, and waits until the process has read the move. */
    async setNow(iso: string) {
      set((Date.parse(iso) - Date.now()) / 1000);
      await new Promise((r) => setTimeout(r, 1_200));
    },
  };
}
