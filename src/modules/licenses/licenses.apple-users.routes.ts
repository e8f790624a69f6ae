// GET /beta/users/{id|userPrincipalName}/appleVppUsers (ENG-4, EUX-2): the person's Apple users with
// invitation and VPP-terms (EULA) status, one per VPP token.
import { Type } from "typebox";
import { ctxOf } from "../../http/context.ts";
import { contextUrl, rejectUnknownOptions } from "../../http/odata/query.ts";
import type { App } from "../../http/types.ts";
import type { AppleUsersService } from "./licenses.apple-users.ts";

const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 300 }) });

const AppleVppUser = Type.Object(
  {
    "@odata.type": Type.Literal("#microsoft.graph.appleVppUser"),
    id: Type.String({ description: "{vppTokenId}_{clientUserId}" }),
    userId: Type.String(),
    vppTokenId: Type.String(),
    clientUserId: Type.String({ description: "the opaque id Allot registered the user with at Apple" }),
    status: Type.Union([
      Type.Literal("registered"),
      Type.Literal("invited"),
      Type.Literal("associated"),
      Type.Literal("retired"),
    ]),
    appleUserStatus: Type.String({ description: "Apple's own status: Registered, Associated, Retired" }),
    invitationStatus: Type.Union([Type.Literal("notSent"), Type.Literal("sent"), Type.Literal("accepted")]),
    invitationSentDateTime: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
    invitationCount: Type.Integer(),
    eulaStatus: Type.Union([Type.Literal("pending"), Type.Literal("accepted")], {
      description: "VPP terms accepted (the invitation accepted)",
    }),
    associatedDateTime: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
    createdDateTime: Type.String({ format: "date-time" }),
    lastModifiedDateTime: Type.String({ format: "date-time" }),
  },
  {
    title: "microsoft.graph.appleVppUser",
    description: "Documented extension: a person's Apple user at one VPP token (ENG-4)",
  },
);

export function registerAppleUserRoutes(app: App, deps: { appleUsersService: AppleUsersService }) {
  app.get(
    "/users/:id/appleVppUsers",
    {
      config: { access: "tokens.read" },
      schema: {
        tags: ["licenses"],
        summary:
          "The user's Apple users (one per VPP token): registration, invitation and VPP terms (EULA) status for user licensing (ENG-4)",
        params: IdParam,
        response: { 200: Type.Object({ "@odata.context": Type.String(), value: Type.Array(AppleVppUser) }) },
      },
    },
    async (req) => {
      rejectUnknownOptions(req.query as Record<string, unknown>, []);
      return {
        "@odata.context": contextUrl(req, `users('${req.params.id}')/appleVppUsers`),
        value: await deps.appleUsersService.appleVppUsersOf(ctxOf(req), req.params.id),
      };
    },
  );
}
