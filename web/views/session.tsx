import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { KilnClient } from "../../shared/client.js";
import type { OrgMember } from "../../shared/schemas/org.js";
import type { SessionEvent, SessionSummary } from "../../shared/schemas/session.js";
import type { SessionWorkbench, TaskDetail, Workbench } from "../../shared/schemas/task.js";
import { ErrorText, errorMessage, useAction, submitWith } from "../errors.js";
import { toBlocks } from "../transcript.js";

interface Props {
  client: KilnClient;
  orgId: string;
  task: TaskDetail;
  sessionId: string;
  workbench: SessionWorkbench | undefined;
  onWorkbench(w: Workbench): void;
  /** The org's members, to name who sent each message. */
  members: readonly OrgMember[];
}

const DRAFT_SAVE_MS = 300;

/** Who sent a user message: the member's name, or a plain "User" for one Kiln did not record. */
function senderName(members: readonly OrgMember[], author: string | null): string {
  if (!author) return "User";
  return members.find((m) => m.userId === author)?.name || "Former member";
}

export function SessionPane({ client, orgId, task, sessionId, workbench, onWorkbench, members }: Props) {
  const ref = useMemo(() => ({ orgId, taskId: task.id, sessionId }), [orgId, task.id, sessionId]);
  const [session, setSession] = useState<SessionSummary | null>(null);
  const [events, setEvents] = useState<Map<number, SessionEvent>>(new Map());
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let stopped = false;
    const add = (list: SessionEvent[]) =>
      !stopped &&
      setEvents((m) => {
        const next = new Map(m);
        for (const e of list) next.set(e.index, e);
        return next;
      });
    // Everything so far, page by page; live events fill in whatever arrives meanwhile.
    const read = async () => {
      try {
        setSession(await client.getSession(ref));
        let after = 0;
        for (;;) {
          const page = await client.sessionEvents(orgId, task.id, sessionId, after, 500);
          add(page.events);
          if (page.next === null) break;
          after = page.next;
        }
        setError(null);
      } catch (err) {
        if (!stopped) setError(errorMessage(err));
      }
    };
    const stop = client.subscribeSession(orgId, task, sessionId, {
      onOpen: () => void read(),
      onError: () => void read(),
      onSession: (s) => !stopped && setSession(s),
      onEvent: (e) => add([e]),
    });
    // Opening a session marks it read, for this user only.
    client.markRead(ref).then(onWorkbench, () => undefined);
    return () => {
      stopped = true;
      void stop();
    };
  }, [client, ref]);

  const blocks = useMemo(() => toBlocks([...events.values()].sort((a, b) => a.index - b.index)), [events]);
  const end = useRef<HTMLDivElement>(null);
  useEffect(() => end.current?.scrollIntoView({ block: "nearest" }), [blocks.length]);

  return (
    <section class="session" aria-label={`Session ${session?.name ?? sessionId}`}>
      <p class="meta">
        <span class={`badge ${session?.status ?? ""}`} data-testid="session-status">
          {session?.status ?? "loading"}
        </span>{" "}
        {session?.agent}
        {session?.message && (
          <span class="error" role="alert">
            {" "}
            {session.message}
          </span>
        )}
      </p>
      <ErrorText error={error} />
      <ol class="transcript" aria-label="Transcript" aria-live="polite">
        {blocks.map((b) =>
          b.kind === "tool" ? (
            <li key={b.key} class={`tool ${b.status}`} data-kind="tool">
              <span class="tool-label">Tool · {b.toolKind}</span> {b.title} <span class="badge">{b.status}</span>
            </li>
          ) : b.kind === "turn-end" ? (
            <li key={b.key} class="turn-end" data-kind="turn-end">
              Turn ended: {b.reason}
            </li>
          ) : (
            <li key={b.key} class={b.kind} data-kind={b.kind}>
              <span class="who">{b.kind === "user" ? senderName(members, b.author) : "Agent"}</span>
              <p>{b.text}</p>
            </li>
          ),
        )}
      </ol>
      <div ref={end} />
      <Composer client={client} sessionRef={ref} session={session} draft={workbench?.draft} onWorkbench={onWorkbench} />
    </section>
  );
}

function Composer(props: {
  client: KilnClient;
  sessionRef: { orgId: string; taskId: string; sessionId: string };
  session: SessionSummary | null;
  draft: string | undefined;
  onWorkbench(w: Workbench): void;
}) {
  const { client, sessionRef, session } = props;
  const [text, setText] = useState(props.draft ?? "");
  const touched = useRef(false);
  // The saved draft may arrive after the pane opened; it fills the box only until the user types.
  useEffect(() => {
    if (!touched.current && props.draft !== undefined) setText(props.draft);
  }, [props.draft]);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const [saveError, setSaveError] = useState<string | null>(null);
  const saveDraft = (value: string) => {
    clearTimeout(timer.current);
    timer.current = setTimeout(() => {
      client.saveDraft(sessionRef, value).then(
        () => setSaveError(null),
        (err: unknown) => setSaveError(`Draft not saved: ${errorMessage(err)}`),
      );
    }, DRAFT_SAVE_MS);
  };
  useEffect(() => () => clearTimeout(timer.current), []);

  const send = useAction(async () => {
    await client.sendMessage(sessionRef.orgId, sessionRef.taskId, sessionRef.sessionId, text);
    clearTimeout(timer.current);
    setText("");
    props.onWorkbench(await client.saveDraft(sessionRef, ""));
  });
  const stop = useAction(() => client.stopTurn(sessionRef.orgId, sessionRef.taskId, sessionRef.sessionId));
  const running = Boolean(session?.turn);
  return (
    <form
      class="composer"
      onSubmit={submitWith(send.run)}
    >
      <label class="grow">
        <span class="sr-only">Message</span>
        <textarea
          aria-label="Message"
          rows={3}
          value={text}
          placeholder="Message the agent (Ctrl+Enter sends)"
          onInput={(e) => {
            touched.current = true;
            setText(e.currentTarget.value);
            saveDraft(e.currentTarget.value);
          }}
          onKeyDown={(e) => {
            if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
              e.preventDefault();
              void send.run();
            }
          }}
        />
      </label>
      <div class="row">
        <button type="submit" class="primary" disabled={send.busy || !text.trim() || session?.status === "closed"}>
          Send
        </button>
        <button type="button" onClick={() => void stop.run()} disabled={stop.busy || !running}>
          Stop turn
        </button>
      </div>
      <ErrorText error={send.error ?? stop.error ?? saveError} />
    </form>
  );
}
