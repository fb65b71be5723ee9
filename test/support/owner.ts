import { api } from "./api.js";
import { makeBareRepo } from "./git.js";
import { signUp, socketTransport, type SignedUp } from "./http.js";

export interface RepoOwner {
  user: SignedUp;
  orgId: string;
  repoId: string;
  /** The owner's REST API. */
  A: ReturnType<typeof api>;
}

/** A user signed up on the Kiln at `url`, with one fresh repository in their personal org. */
export async function ownerWithRepo(url: string): Promise<RepoOwner> {
  const t = socketTransport(url);
  const user = await signUp(t, { name: "Ann" });
  const orgId = `personal-${user.user.id}`;
  const A = api(t, user.token);
  return { user, orgId, repoId: await A.addRepo(orgId, makeBareRepo()), A };
}
