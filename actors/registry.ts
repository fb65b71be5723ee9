import { setup } from "rivetkit";
import { organization } from "./organization/index.js";

/** Kiln's actor registry. Serving and driver choice live in server/rivet.ts. */
export const registry = setup({
  use: { organization },
});

export type Registry = typeof registry;
