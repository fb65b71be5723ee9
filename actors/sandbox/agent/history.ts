/**
 * The conversation Kiln hands a re-opened agent session. An agent process that restarted (Kiln
 * or its sandbox server did) remembers nothing, but the session's transcript does; its turns are
 * given to the agent as one text block in front of the first new prompt.
 */

/** First line of the history block; agents (and Kiln's mock agent) can recognise it. */
export const HISTORY_PREFIX = "Kiln restored this conversation after the agent restarted. Earlier turns, oldest first:";

/** Marks where a turn too long to hand over whole was cut. */
const ELIDED = "[…earlier part cut…] ";

export interface HistoryTurn {
  role: "user" | "assistant";
  text: string;
}

/**
 * The history block for these turns, keeping the newest ones that fit in `maxChars`, or null
 * when there is nothing to hand over.
 */
export function buildHistory(turns: HistoryTurn[], maxChars = 20_000): string | null {
  const lines: string[] = [];
  let size = HISTORY_PREFIX.length;
  for (let i = turns.length - 1; i >= 0; i--) {
    const t = turns[i]!;
    const label = t.role === "user" ? "User" : "Assistant";
    const text = t.text.trim();
    const line = `${label}: ${text}`;
    const room = maxChars - size - 1;
    if (line.length > room) {
      // A turn too long for the room left keeps its end, where a reply concludes, rather than
      // the agent losing the whole conversation to one long answer.
      const keep = room - label.length - 2 - ELIDED.length;
      if (keep >= 200) lines.unshift(`${label}: ${ELIDED}${text.slice(-keep)}`);
      break;
    }
    lines.unshift(line);
    size += line.length + 1;
  }
  return lines.length ? [HISTORY_PREFIX, ...lines].join("\n") : null;
}
