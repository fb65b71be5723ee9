import { HOST_PROVIDERS } from "../../shared/providers.js";
import { actorServices } from "../services.js";
import { DaytonaSandboxProvider } from "./daytona.js";
import { LocalGitProvider } from "./local-git.js";
import { LocalSandboxAgentProvider } from "./local.js";
import { SandboxError, type SandboxProvider } from "./provider.js";
import { RenderSandboxProvider } from "./render.js";

/**
 * Whether an org may choose `provider` on this Kiln. A host provider only where the operator's
 * default already is one: an operator who sends sandboxes to Daytona keeps users' agents off
 * the host, and no org setting may bring them back.
 */
export function sandboxProviderAllowed(provider: string, defaultProvider: string): boolean {
  const onHost = (id: string) => (HOST_PROVIDERS as readonly string[]).includes(id);
  return !onHost(provider) || onHost(defaultProvider);
}

/** One instance per provider and root in this process: providers keep per-process handles (clients, child processes). */
const instances = new Map<string, SandboxProvider>();

/** The provider for a sandbox's provider id; one that is not configured on this Kiln is refused with a clear reason. */
export function sandboxProvider(id: string): SandboxProvider {
  const services = actorServices();
  const key = `${id}:${services.sandboxRoot}`;
  let provider = instances.get(key);
  if (!provider) {
    provider = createProvider(id);
    instances.set(key, provider);
  }
  return provider;
}

function createProvider(id: string): SandboxProvider {
  const { sandboxRoot, agentEnv, internalKey, daytona, render } = actorServices();
  if (id === "local") return new LocalSandboxAgentProvider(sandboxRoot, agentEnv);
  if (id === "local-git") return new LocalGitProvider(sandboxRoot);
  if (id === "daytona" && daytona) return new DaytonaSandboxProvider(daytona, internalKey, agentEnv);
  if (id === "render" && render) return new RenderSandboxProvider(render, internalKey, agentEnv);
  const hint = id === "daytona" ? " Set DAYTONA_API_KEY." : id === "render" ? " Set RENDER_API_KEY, RENDER_OWNER_ID and RENDER_WORKER_IMAGE." : "";
  throw new SandboxError("create_failed", `Sandbox provider "${id}" is not configured on this Kiln.${hint}`);
}
