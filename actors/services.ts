import { pino, type Logger } from "pino";
import type { OrgMemberRole, OrgKind } from "../shared/schemas/org.js";
import type { DeviceBoardEntry, DeviceSnapshot } from "./device/state.js";
import type { DaytonaProviderConfig } from "./sandbox/daytona.js";
import type { RenderProviderConfig } from "./sandbox/render.js";
import type { GitHubServices } from "./github-state/services.js";

/** What an actor may learn about a session token: who it belongs to, or nothing. */
export interface VerifiedSession {
  userId: string;
  sessionId: string;
}

/** A snapshot an OrganizationActor pushes into the gateway's membership index. */
export interface OrgIndexSnapshot {
  orgId: string;
  kind: OrgKind;
  name: string;
  members: { userId: string; role: OrgMemberRole }[];
  /** Pending invitations (team orgs), indexed by email so an invitee finds theirs. */
  invitations: OrgInvitationRow[];
}

/** One pending invitation as the OrganizationActor keeps it (and indexes it). */
export interface OrgInvitationRow {
  id: string;
  email: string;
  role: OrgMemberRole;
  invitedBy: string;
  createdAt: string;
}

/**
 * Process resources the actors need but must not own: the session verifier and the
 * membership index writer. The server installs them once at start, on every process that
 * hosts actors. They are handles (database pools), never facts: every fact lives in actor
 * state or the app database, so nothing here breaks when actors move between processes.
 */
export interface ActorServices {
  verifySessionToken(token: string): Promise<VerifiedSession | null>;
  /** Key that marks a call from Kiln's own gateway or actors. Derived from the auth secret. */
  internalKey: string;
  syncOrgIndex(snapshot: OrgIndexSnapshot): Promise<void>;
  /** The gateway's worker authorization index and view cache, kept by OrganizationActors. */
  workers: WorkerIndexWriter;
  /** The gateway's device and watcher indexes, kept by DeviceActors and OrganizationActors. */
  devices: DeviceIndexWriter;
  /** A task's state changed: the gateway's cached views of it are dropped (called on every change, synchronously). */
  taskChanged(orgId: string, taskId: string): void;
  /** Membership from the gateway's index, for actors below the organization (they don't own membership). */
  isOrgMember(orgId: string, userId: string): Promise<boolean>;
  /** Where the local sandbox providers keep their sandboxes. */
  sandboxRoot: string;
  /** Agent credentials from configuration, for sandbox servers' environment. Secret. */
  agentEnv: Record<string, string>;
  /** Kiln's public base URL (KILN_PUBLIC_URL, else the local URL): where a cloud worker's instance is reached. */
  publicUrl: string;
  /** The provider new tasks' sandboxes use. */
  defaultSandboxProvider: string;
  /** Where new cloud workers run: `local`, `daytona` or `render` (PROVISIONER_MODE). */
  workerProvisioner: string;
  /** Present when Daytona is configured (DAYTONA_API_KEY). Holds a secret. */
  daytona: DaytonaProviderConfig | undefined;
  /** Present when Render is configured (RENDER_API_KEY…). Holds a secret. */
  render: RenderProviderConfig | undefined;
  /** Present when the GitHub App is configured (GITHUB_APP_*). Holds secrets. */
  github?: GitHubServices;
  /** Whether repos may point at local paths and file:// URLs (development; off in production). */
  allowLocalRemotes: boolean;
  logger: Logger;
}

/**
 * Which org a worker id belongs to, and who created it: all the gateway needs to route and
 * authorize `/v1/workers/:id`. The worker's view lives in its OrganizationActor, not here.
 */
export interface WorkerIndexWriter {
  /** A new worker, before its id is given out. */
  index(workerId: string, orgId: string, createdBy: string): Promise<void>;
  /** The worker is deleted (idempotent; only the org's own row). */
  unindex(workerId: string, orgId: string): Promise<void>;
  /** The worker's view changed: the gateway's cached copy is dropped (synchronously, on every change). */
  changed(workerId: string): void;
}

/** Writes the gateway's device-API indexes (app database). Called only when something changed. */
export interface DeviceIndexWriter {
  /** A device's registration changed (or it was deleted). */
  sync(snapshot: DeviceSnapshot & { deleted?: boolean }): Promise<void>;
  /**
   * Replaces the device's entry on the gateway's device board (null drops it), from which idle polls
   * are answered without the actor. Synchronous: the board is current before the action returns.
   */
  publishBoard(deviceId: string, entry: DeviceBoardEntry | null): void;
  /** When the gateway last saw the device poll (ISO), or null; the gateway keeps `last_seen_at`. */
  lastSeen(deviceId: string): string | null;
  /** The user's registered device in the org seen most recently, or null: where an unpinned watcher's scheduled run goes. */
  pickDevice(orgId: string, userId: string): Promise<string | null>;
  /** A watcher was created in an organization. */
  indexWatcher(watcherId: string, orgId: string): Promise<void>;
}

let installed: ActorServices | undefined;

/**
 * Binds this process's services. One Kiln per process: the registry and its actor
 * definitions are module-level, so a second Kiln would silently share them.
 */
export function installActorServices(services: ActorServices): () => void {
  if (installed) throw new Error("A Kiln is already running in this process; start one Kiln per process.");
  installed = services;
  return () => {
    if (installed === services) installed = undefined;
  };
}

/**
 * The logger for work that may outlive Kiln's shutdown (a turn that ends as its sandbox is
 * stopped): silent once services are uninstalled, instead of throwing from a background task.
 */
export function actorLog(): Logger {
  return installed?.logger ?? silentLogger;
}

const silentLogger = pino({ level: "silent" });

export function actorServices(): ActorServices {
  if (!installed) throw new Error("Actor services are not installed: start actors through server/rivet.ts");
  return installed;
}
