import { actorServices } from "../services.js";
import { LocalGitProvider } from "./local-git.js";
import { LocalSandboxAgentProvider } from "./local.js";
import { SandboxError, type SandboxProvider } from "./provider.js";

export const SANDBOX_PROVIDERS = ["local", "local-git"] as const;
export type SandboxProviderId = (typeof SANDBOX_PROVIDERS)[number];

/** One instance per provider and root in this process: providers keep per-process handles (clients, child processes). */
const instances = new Map<string, SandboxProvider>();

/** The provider for a sandbox's provider id. */
export function sandboxProvider(id: string): SandboxProvider {
  const { sandboxRoot: root, agentEnv } = actorServices();
  const key = `${id}:${root}`;
  let provider = instances.get(key);
  if (!provider) {
    if (id === "local") provider = new LocalSandboxAgentProvider(root, agentEnv);
    else if (id === "local-git") provider = new LocalGitProvider(root);
    else throw new SandboxError("create_failed", `Sandbox provider "${id}" is not configured on this Kiln.`);
    instances.set(key, provider);
  }
  return provider;
}
