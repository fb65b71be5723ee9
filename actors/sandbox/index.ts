import { actorServices } from "../services.js";
import { LocalGitProvider } from "./local-git.js";
import { SandboxError, type SandboxProvider } from "./provider.js";

/** The provider for a sandbox's provider id. Providers are stateless handles; sandboxes hold the state. */
export function sandboxProvider(id: string): SandboxProvider {
  if (id === "local-git") return new LocalGitProvider(actorServices().sandboxRoot);
  throw new SandboxError("create_failed", `Sandbox provider "${id}" is not configured on this Kiln.`);
}
