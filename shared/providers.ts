/** Every sandbox provider id, one union: the gateway's config, the API's schemas and the actors' providers all take theirs from here. */
export const PROVIDER_IDS = ["local", "local-git", "daytona", "render"] as const;
export type ProviderId = (typeof PROVIDER_IDS)[number];

/** Where an org's task sandboxes may run (Render runs cloud workers only). */
export const TASK_SANDBOX_PROVIDERS = ["local", "local-git", "daytona"] as const satisfies readonly ProviderId[];
export type TaskSandboxProvider = (typeof TASK_SANDBOX_PROVIDERS)[number];

/** Where cloud workers run (PROVISIONER_MODE). */
export const WORKER_PROVISIONERS = ["local", "daytona", "render"] as const satisfies readonly ProviderId[];
export type WorkerProvisioner = (typeof WORKER_PROVISIONERS)[number];

/** Providers that run agents on Kiln's own machine, as Kiln's OS user. */
export const HOST_PROVIDERS: readonly ProviderId[] = ["local", "local-git"];
