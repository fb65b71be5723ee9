import { describe, expect, it } from "vitest";
import { buildHistory, HISTORY_PREFIX } from "../actors/sandbox/agent/history.js";

describe("the history handed to a re-opened agent session", () => {
  it("gives the turns oldest first, under the prefix agents recognise", () => {
    const h = buildHistory([
      { role: "user", text: "the password is tangerine" },
      { role: "assistant", text: " Noted. " },
    ]);
    expect(h).toBe(`${HISTORY_PREFIX}\nUser: the password is tangerine\nAssistant: Noted.`);
    expect(buildHistory([])).toBeNull();
  });

  it("keeps the newest turns that fit, dropping the oldest", () => {
    const turns = Array.from({ length: 50 }, (_, i) => ({ role: "user" as const, text: `turn ${i} ${"y".repeat(90)}` }));
    const h = buildHistory(turns, 1_000)!;
    expect(h.length).toBeLessThanOrEqual(1_000);
    expect(h).toContain("turn 49 ");
    expect(h).not.toContain("turn 0 ");
  });

  it("keeps the end of a newest turn too long to fit whole, instead of handing over nothing", () => {
    const reply = `${"x".repeat(30_000)} and so the answer is 42`;
    const h = buildHistory([{ role: "user", text: "what is it?" }, { role: "assistant", text: reply }])!;
    expect(h.length).toBe(20_000);
    expect(h.startsWith(`${HISTORY_PREFIX}\nAssistant: […earlier part cut…] x`)).toBe(true);
    expect(h.endsWith("and so the answer is 42")).toBe(true);
  });
});
