import type { SessionEvent } from "../shared/schemas/session.js";

/** A transcript as a reader sees it: messages, tool calls (shown apart from prose) and turn ends. */
export type Block =
  | { kind: "user"; key: string; text: string; author: string | null }
  | { kind: "agent"; key: string; text: string }
  | { kind: "tool"; key: string; title: string; toolKind: string; status: string }
  | { kind: "turn-end"; key: string; reason: string };

interface AcpUpdate {
  sessionUpdate?: string;
  toolCallId?: string;
  title?: string;
  kind?: string;
  status?: string;
}

/** The ACP `session/update` a sandbox-agent event carries, if any. */
function acpUpdate(e: SessionEvent): AcpUpdate {
  const p = e.payload as { params?: { update?: AcpUpdate } } | null;
  return p?.params?.update ?? {};
}

export function toBlocks(events: SessionEvent[]): Block[] {
  const blocks: Block[] = [];
  const tools = new Map<string, Extract<Block, { kind: "tool" }>>();
  for (const e of events) {
    const last = blocks.at(-1);
    switch (e.kind) {
      case "user_message":
        blocks.push({ kind: "user", key: `e${e.index}`, text: e.text ?? "", author: e.author ?? null });
        break;
      case "agent_message_chunk":
        if (last?.kind === "agent") last.text += e.text ?? "";
        else blocks.push({ kind: "agent", key: `e${e.index}`, text: e.text ?? "" });
        break;
      case "tool_call":
      case "tool_call_update": {
        const u = acpUpdate(e);
        const id = u.toolCallId ?? `e${e.index}`;
        const known = tools.get(id);
        if (known) {
          if (u.status) known.status = u.status;
          if (u.title) known.title = u.title;
        } else {
          const block = { kind: "tool" as const, key: `t${id}`, title: u.title ?? e.text ?? "Tool call", toolKind: u.kind ?? "other", status: u.status ?? "pending" };
          tools.set(id, block);
          blocks.push(block);
        }
        break;
      }
      case "turn_ended":
        blocks.push({ kind: "turn-end", key: `e${e.index}`, reason: e.text ?? "ended" });
        break;
      default:
        break;
    }
  }
  return blocks;
}
