import { asc, gt, inArray } from "drizzle-orm";
import type { SessionEvent } from "../../shared/schemas/session.js";
import type { HistoryTurn } from "../sandbox/agent/history.js";
import { events } from "./db.js";
import type { SessionContext } from "./state.js";

type SessionRow = typeof events.$inferSelect;
export type NewTranscriptEvent = Omit<SessionRow, "index" | "author"> & { author?: string | null };

function toSessionEvent(r: SessionRow): SessionEvent {
  return { index: r.index, sender: r.sender as SessionEvent["sender"], kind: r.kind, text: r.text, payload: r.payload ?? null, at: r.at, author: r.author ?? null };
}

/** Appends one event to the transcript (actor SQLite), sends it to subscribers and returns its index. */
export async function record(c: SessionContext, e: NewTranscriptEvent): Promise<number> {
  const [row] = await c.db.insert(events).values(e).returning({ index: events.index });
  c.state.eventCount += 1;
  const index = row?.index ?? c.state.eventCount;
  c.broadcast("sessionEvent", { ...e, index, sender: e.sender as SessionEvent["sender"], payload: e.payload ?? null, author: e.author ?? null });
  return index;
}

/** One page of the transcript: events after index `after`, oldest first. */
export async function transcriptPage(c: Pick<SessionContext, "db">, after: number, limit: number): Promise<{ events: SessionEvent[]; next: number | null }> {
  const rows = await c.db.select().from(events).where(gt(events.index, after)).orderBy(asc(events.index)).limit(limit + 1);
  const page = rows.slice(0, limit).map(toSessionEvent);
  return { events: page, next: rows.length > limit ? (page.at(-1)?.index ?? null) : null };
}

/**
 * The transcript as conversation turns: each user message, and the agent's text chunks joined per
 * reply. `before` leaves out events from that index on (the prompt about to be sent).
 */
export async function transcriptTurns(c: Pick<SessionContext, "db">, before = Number.MAX_SAFE_INTEGER): Promise<HistoryTurn[]> {
  const rows = await c.db
    .select({ index: events.index, kind: events.kind, text: events.text })
    .from(events)
    .where(inArray(events.kind, ["user_message", "agent_message_chunk"]))
    .orderBy(asc(events.index));
  const turns: HistoryTurn[] = [];
  for (const row of rows) {
    if (row.index >= before) break;
    const role = row.kind === "user_message" ? "user" : "assistant";
    const last = turns.at(-1);
    if (role === "assistant" && last?.role === "assistant") last.text += row.text ?? "";
    else turns.push({ role, text: row.text ?? "" });
  }
  return turns;
}
