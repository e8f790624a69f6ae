// Apple users of a person (ENG-4, EUX-2, seed 001 "Status VPP EULA"): one per VPP token whose apps are
// user-licensed to them, with the invitation and association status the console shows. Graph has no
// such entity: `microsoft.graph.appleVppUser` is a documented extension under /beta. The invitation
// link itself is never shown (whoever holds it can bind an Apple Account to the organization).
import type { Ctx } from "../../http/context.ts";
import { notFound } from "../../lib/errors.ts";
import { appleStateOf, type LicensesRepository } from "./licenses.repository.ts";

export const APPLE_VPP_USER_TYPE = "#microsoft.graph.appleVppUser" as const;
const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());
const isoOf = (d: Date | string) => new Date(d).toISOString();

export function createAppleUsersService(deps: { licensesRepository: LicensesRepository }) {
  const repo = deps.licensesRepository;
  return {
    async appleVppUsersOf(ctx: Ctx, idOrUpn: string) {
      const userId = await repo.findUserId(ctx.tenantId, idOrUpn);
      if (!userId) throw notFound("user", idOrUpn);
      return (await repo.appleUsersOf(ctx.tenantId, userId)).map((a) => {
        const state = appleStateOf(a.status, a.invite_code, a.invited_code);
        const status = state === "none" ? "registered" : state;
        const accepted = status === "associated" || (status === "retired" && a.associated_at !== null);
        return {
          "@odata.type": APPLE_VPP_USER_TYPE,
          id: `${a.token_id}_${a.client_user_id}`,
          userId,
          vppTokenId: a.token_id,
          clientUserId: a.client_user_id,
          // registered (Apple knows the user), invited (invitation sent), associated (Apple Account bound), retired
          status,
          appleUserStatus: a.status,
          invitationStatus: accepted
            ? ("accepted" as const)
            : a.invited_at
              ? ("sent" as const)
              : ("notSent" as const),
          invitationSentDateTime: iso(a.invited_at),
          invitationCount: a.invitation_count,
          // Accepting the invitation is agreeing to Apple's VPP terms.
          eulaStatus: accepted ? ("accepted" as const) : ("pending" as const),
          associatedDateTime: iso(a.associated_at),
          createdDateTime: isoOf(a.created_at),
          lastModifiedDateTime: isoOf(a.updated_at),
        };
      });
    },
  };
}
export type AppleUsersService = ReturnType<typeof createAppleUsersService>;
